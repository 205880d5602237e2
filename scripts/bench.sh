#!/usr/bin/env bash
# Benchmark `shiplink match` against the GeoPandas baseline (scripts/baseline/).
#
# Usage: scripts/bench.sh [10k] [100k] [1m] [1m-10y]   (default: 10k 100k 1m)
#
# For each size: simulate a scenario (60 days, seed 1), run `shiplink match -q -v` RUNS
# times under /usr/bin/time -v, run the GeoPandas baseline on the same files the same
# way (once at 1m, under a timeout), and print a Markdown report (per-stage seconds,
# wall time, peak RSS: medians) to stdout and docs/bench.md.
#
# 1m-10y is about a million detections the other way: ten simulated years (3650 days) at
# scale 22, so tracks run for years instead of weeks (the baseline is not run there).
#
# Environment:
#   RUNS=3                  runs per tool and size (the baseline runs once at 1m)
#   TOOLS="shiplink baseline"   which tools to run
#   APPEND=1                add to $BENCH_DIR/results.tsv instead of starting it afresh
#   BASELINE=1              0 skips the GeoPandas baseline
#   BASELINE_TIMEOUT=900    seconds before the baseline is stopped at 1m (reported)
#   BASELINE_MEM_GB=8       address-space limit of the baseline (the machine is shared)
#   BENCH_DIR=/tmp/shiplink-bench   scenarios and run logs
#   VENV=scripts/baseline/.venv     baseline virtualenv (created when missing)
#   KEEP=1                  keep the scenario folders (default: removed at the end)
#   REPORT=docs/bench.md    where the report goes besides stdout ("" for stdout only)
#   REPORT_ONLY=1           no runs: rebuild the report from $BENCH_DIR/results.tsv
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-3}
BASELINE=${BASELINE:-1}
TOOLS=${TOOLS:-shiplink baseline}
case " $TOOLS " in *" baseline "*) ;; *) BASELINE=0 ;; esac
RUN_SHIPLINK=0
case " $TOOLS " in *" shiplink "*) RUN_SHIPLINK=1 ;; esac
BASELINE_TIMEOUT=${BASELINE_TIMEOUT:-900}
BASELINE_MEM_GB=${BASELINE_MEM_GB:-8}
BENCH_DIR=${BENCH_DIR:-/tmp/shiplink-bench}
VENV=${VENV:-$ROOT/scripts/baseline/.venv}
REPORT=${REPORT-docs/bench.md}
BIN=$ROOT/target/release/shiplink
SEED=1
DAYS=60

sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10k 100k 1m)
scale_of() {
    # About 745 detections per unit of scale (60 days): 13 ≈ 9.7k, 134 ≈ 100k, 1344 ≈ 1M.
    case "$1" in
        10k) echo 13 ;;
        100k) echo 134 ;;
        1m | 1M) echo 1344 ;;
        1m-10y) echo 22 ;;
        *) echo "bench.sh: unknown size '$1' (10k, 100k, 1m, 1m-10y)" >&2; return 2 ;;
    esac
}
days_of() {
    case "$1" in
        1m-10y) echo 3650 ;;
        *) echo $DAYS ;;
    esac
}
scenario_dir() { echo "$BENCH_DIR/scenario-$(scale_of "$1")-$(days_of "$1")"; }
for s in "${sizes[@]}"; do scale_of "$s" >/dev/null; done

log() { echo "bench: $*" >&2; }

RESULTS=$BENCH_DIR/results.tsv # size tool run key value
if [ "${REPORT_ONLY:-0}" != 1 ]; then
log "building release binary"
cargo build --release --quiet

if [ "$BASELINE" = 1 ] && ! "$VENV/bin/python" -c 'import geopandas, scipy, pyogrio' 2>/dev/null; then
    log "creating baseline venv $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r scripts/baseline/requirements.txt
fi

mkdir -p "$BENCH_DIR"
[ "${APPEND:-0}" = 1 ] || : >"$RESULTS"
"$BIN" ports >"$BENCH_DIR/ports.geojson"

# record SIZE TOOL RUN TIMEFILE LOGFILE RC: stage lines, wall, peak RSS, exit code.
record() {
    local size=$1 tool=$2 run=$3 timef=$4 logf=$5 rc=$6
    {
        sed -nE 's/^(shiplink|baseline): +([a-z_]+): +([0-9.]+) s( +\(.*\))?$/\2\t\3/p' "$logf" |
            while IFS=$'\t' read -r k v; do printf '%s\t%s\t%s\tstage.%s\t%s\n' "$size" "$tool" "$run" "$k" "$v"; done
        awk -v s="$size" -v t="$tool" -v r="$run" -F': ' '
            /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i]; printf "%s\t%s\t%s\twall\t%s\n", s, t, r, w }
            /Maximum resident set size/ { printf "%s\t%s\t%s\trss_mb\t%.1f\n", s, t, r, $2 / 1024 }' "$timef"
        printf '%s\t%s\t%s\trc\t%s\n' "$size" "$tool" "$run" "$rc"
        if grep -q MemoryError "$logf"; then printf '%s\t%s\t%s\toom\t1\n' "$size" "$tool" "$run"; fi
    } >>"$RESULTS"
}

for size in "${sizes[@]}"; do
    scale=$(scale_of "$size")
    days=$(days_of "$size")
    scen=$(scenario_dir "$size")
    if [ ! -f "$scen/truth.json" ]; then
        log "$size: simulating scale $scale, $days days"
        rm -rf "$scen"
        "$BIN" simulate --out "$scen" --seed $SEED --days "$days" --scale "$scale" >/dev/null
    fi
    dets=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["detections"])' "$scen/truth.json")
    files=$(find "$scen/observations" -type f | wc -l)
    in_bytes=$(du -sb "$scen/observations" | cut -f1)
    printf '%s\tinfo\t0\tscale\t%s\n%s\tinfo\t0\tdetections\t%s\n%s\tinfo\t0\tfiles\t%s\n%s\tinfo\t0\tinput_mb\t%s\n' \
        "$size" "$scale" "$size" "$dets" "$size" "$files" "$size" "$(awk -v b="$in_bytes" 'BEGIN{printf "%.1f", b/1e6}')" >>"$RESULTS"
    printf '%s\tinfo\t0\tload_before\t%s\n' "$size" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS"
    # Warm the page cache so every run reads from memory.
    find "$scen/observations" -type f -exec cat {} + >/dev/null
    cat "$scen/scenes.geojson" >/dev/null

    srun=$RUNS
    [ "$RUN_SHIPLINK" = 1 ] || srun=0
    for run in $(seq 1 "$srun"); do
        log "$size: shiplink run $run/$RUNS ($dets detections)"
        out=$BENCH_DIR/out-shiplink
        rc=0
        /usr/bin/time -v -o "$BENCH_DIR/time.txt" "$BIN" match "$scen/observations" \
            --scenes "$scen/scenes.geojson" --out "$out" --overwrite -q -v \
            2>"$BENCH_DIR/log.txt" >/dev/null || rc=$?
        cp "$BENCH_DIR/log.txt" "$BENCH_DIR/shiplink-$size-$run.log"
        record "$size" shiplink "$run" "$BENCH_DIR/time.txt" "$BENCH_DIR/log.txt" "$rc"
        if [ "$rc" -gt 1 ]; then log "$size: shiplink failed (exit $rc):"; tail -5 "$BENCH_DIR/log.txt" >&2; fi
    done
    rm -rf "$BENCH_DIR/out-shiplink"

    if [ "$BASELINE" = 1 ]; then
        bruns=$RUNS
        case "$size" in 1m | 1M) bruns=1 ;; 1m-10y) bruns=0 ;; esac
        for run in $(seq 1 "$bruns"); do
            log "$size: GeoPandas baseline run $run/$bruns (timeout ${BASELINE_TIMEOUT}s)"
            out=$BENCH_DIR/out-baseline
            rm -rf "$out"
            rc=0
            (
                ulimit -v $((BASELINE_MEM_GB * 1024 * 1024))
                /usr/bin/time -v -o "$BENCH_DIR/time.txt" timeout "$BASELINE_TIMEOUT" \
                    "$VENV/bin/python" scripts/baseline/geopandas_match.py "$scen/observations" \
                    --ports "$BENCH_DIR/ports.geojson" --out "$out"
            ) 2>"$BENCH_DIR/log.txt" >/dev/null || rc=$?
            cp "$BENCH_DIR/log.txt" "$BENCH_DIR/baseline-$size-$run.log"
            record "$size" baseline "$run" "$BENCH_DIR/time.txt" "$BENCH_DIR/log.txt" "$rc"
            if [ "$rc" = 124 ]; then
                log "$size: baseline timed out after ${BASELINE_TIMEOUT}s"
            elif [ "$rc" != 0 ]; then
                log "$size: baseline failed (exit $rc):"
                tail -3 "$BENCH_DIR/log.txt" >&2
            fi
        done
        rm -rf "$BENCH_DIR/out-baseline"
    fi
    printf '%s\tinfo\t0\tload_after\t%s\n' "$size" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS"
done
fi

# The report: medians per size, tool and key.
report=$(
    COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
        CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') \
        NPROC=$(nproc) RUNS=$RUNS BASELINE_TIMEOUT=$BASELINE_TIMEOUT \
        CMD="scripts/bench.sh ${sizes[*]}" python3 - "$RESULTS" "${sizes[@]}" <<'PY'
import os, statistics, sys
from collections import defaultdict
from datetime import datetime, timezone

path, sizes = sys.argv[1], sys.argv[2:]
vals = defaultdict(list)  # (size, tool, key) -> [values]
for line in open(path):
    size, tool, run, key, value = line.rstrip("\n").split("\t")
    vals[(size, tool, key)].append(value)

def med(size, tool, key):
    v = [float(x) for x in vals.get((size, tool, key), [])]
    return statistics.median(v) if v else None

def ok_runs(size, tool):
    rcs = [int(x) for x in vals.get((size, tool, "rc"), [])]
    return rcs, all(rc in (0, 1) for rc in rcs) if tool == "shiplink" else all(rc == 0 for rc in rcs)

def f(x, nd=2):
    return "–" if x is None else f"{x:.{nd}f}"

def ratio(a, b):
    return "–" if a is None or b is None or a <= 0 else f"{b / a:.1f}×"

def info(size, key):
    v = vals.get((size, "info", key))
    return v[0] if v else "?"

def baseline_note(size):
    rcs, ok = ok_runs(size, "baseline")
    if not rcs:
        return None, "not run"
    if ok:
        return True, f"{len(rcs)} run(s)"
    if 124 in rcs:
        return False, f"timed out after {os.environ['BASELINE_TIMEOUT']} s"
    if vals.get((size, "baseline", "oom")):
        return False, "out of memory (MemoryError under the BASELINE_MEM_GB limit)"
    return False, f"failed (exit {', '.join(map(str, rcs))})"

# stage groups: label, shiplink stages, baseline stages
groups = [
    ("read input", ["ingest"], ["read"]),
    ("port assignment", ["index"], ["sjoin"]),
    ("stays + linking", ["evidence", "linking"], ["stays", "voyages"]),
    ("land + sea routes", ["land", "routing"], []),
    ("output", ["layers", "write"], ["write"]),
    ("total (self-timed)", ["total"], ["total"]),
]

def stage_sum(size, tool, stages):
    if not stages:
        return None
    xs = [med(size, tool, "stage." + s) for s in stages]
    return None if any(x is None for x in xs) else sum(xs)

out = []
p = out.append
p("# shiplink benchmark")
p("")
p("Generated by `scripts/bench.sh` (see the script's header for options). Do not edit by hand:")
p("rerun the script. What is measured:")
p("")
p("- Scenarios: `shiplink simulate --seed 1 --days 60 --scale K` (point and outline detections in")
p("  one GeoJSON file per image pass, plus scene footprints); 1m-10y is `--days 3650 --scale 22`,")
p("  about a million detections over ten years, where tracks run for years (no baseline there).")
p("- shiplink: `shiplink match OBS --scenes scenes.geojson --out OUT --overwrite -q -v`, release")
p("  build, built-in land (GSHHG full resolution) and ports. Stage seconds are its own `-v` timings;")
p("  wall and peak RSS come from `/usr/bin/time -v`. Exit code 1 (some input rejected) counts as a")
p("  normal run: the simulator writes some deliberately bad detections.")
p("- GeoPandas baseline: `scripts/baseline/geopandas_match.py` — `pd.concat` of `gpd.read_file`")
p("  per file, `gpd.sjoin` to the port zones, stays by a time-ordered loop (250 m, 30 h),")
p("  voyages by `scipy.optimize.linear_sum_assignment` per port pair; no scenes, land or routes,")
p("  so it does less work than shiplink. Packages pinned in `scripts/baseline/requirements.txt`.")
p("- Medians of the runs. Input MB is the observation files only; ingest MB/s = input MB ÷ ingest s. In `match`, ingest shares the two cores with the land stage (built alongside it), so this rate is below that of ingest alone (`examples/ingest_bench.rs`).")
p("- Speed-up = GeoPandas ÷ shiplink (higher is better for shiplink).")
p("")
p(f"Report: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, commit `{os.environ['COMMIT']}`, "
  f"`{os.environ['CMD']}`; n = runs behind each median (the summary table).")
p(f"Machine: {os.environ['NPROC']} × {os.environ['CPU']}, shared with other jobs; the load average")
p("(1, 5, 15 min) before and after each size is in the table — figures taken under load are slower")
p("than on an idle machine.")
p("")
p("## Summary")
p("")
p("| size | detections | files | input MB | load before → after | shiplink wall s | shiplink peak MB | ingest MB/s | GeoPandas wall s | GeoPandas peak MB | speed-up (wall) |")
p("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
for s in sizes:
    w, r = med(s, "shiplink", "wall"), med(s, "shiplink", "rss_mb")
    ing = med(s, "shiplink", "stage.ingest")
    mb = float(info(s, "input_mb")) if info(s, "input_mb") != "?" else None
    rate = None if not ing or mb is None else mb / ing
    bok, bnote = baseline_note(s)
    bw = med(s, "baseline", "wall") if bok else None
    br = med(s, "baseline", "rss_mb") if bok else None
    bw_txt = f"{f(bw)} (n={len(ok_runs(s, 'baseline')[0])})" if bok else (bnote if bok is False else "–")
    nw = len(ok_runs(s, "shiplink")[0])
    p(f"| {s} | {info(s, 'detections')} | {info(s, 'files')} | {info(s, 'input_mb')} | "
      f"{info(s, 'load_before')} → {info(s, 'load_after')} | {f(w)} (n={nw}) | {f(r, 0)} | {f(rate, 0)} | "
      f"{bw_txt} | {f(br, 0)} | {ratio(w, bw)} |")
p("")
p("## Stages (median seconds)")
p("")
head = "| stage | " + " | ".join(f"{s} shiplink | {s} GeoPandas | {s} speed-up" for s in sizes) + " |"
p(head)
p("|---|" + "---:|---:|---:|" * len(sizes))
for label, sst, bst in groups:
    cells = []
    for s in sizes:
        a = stage_sum(s, "shiplink", sst)
        bok, _ = baseline_note(s)
        b = stage_sum(s, "baseline", bst) if bok else None
        cells += [f(a, 3), f(b, 3), ratio(a, b) if bst else "–"]
    p(f"| {label} ({'+'.join(sst)} / {'+'.join(bst) or '—'}) | " + " | ".join(cells) + " |")
cells = []
for s in sizes:
    a, b = med(s, "shiplink", "wall"), med(s, "baseline", "wall") if baseline_note(s)[0] else None
    cells += [f(a, 3), f(b, 3), ratio(a, b)]
p("| wall, /usr/bin/time | " + " | ".join(cells) + " |")
cells = []
for s in sizes:
    a, b = med(s, "shiplink", "rss_mb"), med(s, "baseline", "rss_mb") if baseline_note(s)[0] else None
    cells += [f(a, 0), f(b, 0), "–" if a is None or b is None else f"{b / a:.1f}× less"]
p("| peak RSS MB | " + " | ".join(cells) + " |")
p("")
p("### shiplink stages, each")
p("")
st = ["land", "ingest", "index", "evidence", "linking", "routing", "layers", "write", "total"]
p("| size | " + " | ".join(st) + " | dominant stage |")
p("|---|" + "---:|" * len(st) + "---|")
for s in sizes:
    xs = {k: med(s, "shiplink", "stage." + k) for k in st}
    parts = {k: v for k, v in xs.items() if k != "total" and v is not None}
    dom = max(parts, key=parts.get) if parts else "–"
    share = "" if not parts or not xs["total"] else f" ({100 * parts[dom] / xs['total']:.0f} %)"
    p(f"| {s} | " + " | ".join(f(xs[k], 3) for k in st) + f" | {dom}{share} |")
for s in sizes:
    rcs, ok = ok_runs(s, "shiplink")
    if not ok:
        p(f"\nshiplink at {s}: some runs failed (exit codes {rcs}); see the logs in the bench folder.")
p("")
p("### GeoPandas stages, each")
p("")
bst = ["read", "sjoin", "stays", "voyages", "write", "total"]
p("| size | " + " | ".join(bst) + " | note |")
p("|---|" + "---:|" * len(bst) + "---|")
for s in sizes:
    bok, note = baseline_note(s)
    xs = {k: med(s, "baseline", "stage." + k) for k in bst}
    p(f"| {s} | " + " | ".join(f(xs[k], 3) for k in bst) + f" | {note} |")
p("")
p("## Growth")
p("")
if "100k" in sizes and ("1m" in sizes or "1M" in sizes):
    big = "1m" if "1m" in sizes else "1M"
    a, b = med("100k", "shiplink", "wall"), med(big, "shiplink", "wall")
    ta, tb = med("100k", "shiplink", "stage.total"), med(big, "shiplink", "stage.total")
    la, lb = med("100k", "shiplink", "stage.land"), med(big, "shiplink", "stage.land")
    p(f"shiplink 100k → 1m: wall {ratio(a, b)}, self-timed total {ratio(ta, tb)}"
      + ("" if None in (ta, tb, la, lb) else f", total without the fixed land stage {ratio(ta - la, tb - lb)}") + ".")
else:
    p("(run with both 100k and 1m for the 100k → 1M growth)")
print("\n".join(out))
PY
)
echo "$report"
if [ -n "$REPORT" ]; then
    # Hand-written notes after the marker line survive a rerun.
    marker='<!-- notes: kept by scripts/bench.sh -->'
    notes=""
    [ -f "$REPORT" ] && notes=$(awk -v m="$marker" '$0 == m { keep = 1 } keep' "$REPORT")
    { printf '%s\n' "$report"; [ -n "$notes" ] && printf '\n%s\n' "$notes"; } >"$REPORT"
    log "wrote $REPORT"
fi

if [ "${KEEP:-0}" != 1 ]; then
    for size in "${sizes[@]}"; do rm -rf "$(scenario_dir "$size")"; done
    log "removed scenario folders (KEEP=1 keeps them)"
fi
