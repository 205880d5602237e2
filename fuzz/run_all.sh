#!/usr/bin/env bash
# Runs each fuzz target in turn, one process each (the machine is shared; no -jobs, which
# would send libFuzzer's output to ./fuzz-N.log), for
# SECONDS_PER_TARGET seconds (default 660), logging to fuzz/logs/<target>.log.
# Fork mode with -ignore_crashes=1 keeps fuzzing past a known crash (one child at a time);
# crashing inputs land in fuzz/artifacts/<target>/.
# Usage: fuzz/run_all.sh [target...]   (from anywhere; stable rustc via RUSTC_BOOTSTRAP=1)
set -u
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_TARGET:-660}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(ingest_feature ingest_file match_small)
mkdir -p fuzz/logs
for t in "${targets[@]}"; do
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -O -- -max_total_time="$secs" -print_final_stats=1 \
        -fork=1 -ignore_crashes=1 >"fuzz/logs/$t.log" 2>&1
    echo "$t exit $?" >>fuzz/logs/summary.txt
done
