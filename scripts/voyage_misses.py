#!/usr/bin/env python3
"""Where the voyage errors of `match` on simulated scenarios come from (a tuning aid).

Reads the scenario and output folders that `cargo run --release --example quality -- --work
WORK` leaves (WORK/sim-s{seed}-d{days}-x{scale} and WORK/out-s{seed}-d{days}-x{scale}) and
counts, over the given seeds:

- each true voyage observed at both ends: found, or missed and why, from what the output
  did with the stays holding its origin and destination detections (an end in no stay at
  all: its detections are unmatched; else whether a voyage leaves the origin stay or
  reaches the destination stay, and whether the two stays are in one track);
- true and predicted voyages with an end seen by radar (Sentinel-1) alone.

Which predicted voyages are right comes from `shiplink evaluate --json` (its `outcomes`).
A true voyage counts as found when a right one has its ports and overlaps both its ends
(paired one to one, in file order).

Usage: scripts/voyage_misses.py WORK [--seeds 1,2,3,4,5] [--days 60] [--scale 1]
       [--bin target/release/shiplink] [-v]
"""
import argparse
import collections
import glob
import json
import os
import subprocess


def features(path):
    """Features of a FeatureCollection or of a GeoJSONSeq file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text).get("features", [])
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def props(path):
    return [f["properties"] for f in features(path)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("work")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--days", default="60")
    ap.add_argument("--scale", default="1")
    ap.add_argument("--bin", default="target/release/shiplink", help="the shiplink binary")
    ap.add_argument("-v", action="store_true", help="print each missed voyage")
    a = ap.parse_args()
    tally = collections.Counter()
    for seed in a.seeds.split(","):
        tag = f"s{seed}-d{a.days}-x{a.scale}"
        sim = os.path.join(a.work, f"sim-{tag}")
        out = os.path.join(a.work, f"out-{tag}")
        with open(os.path.join(sim, "truth.json"), encoding="utf-8") as f:
            truth = json.load(f)
        sensor = {}
        for path in glob.glob(os.path.join(sim, "observations", "*")):
            for ft in features(path):
                if isinstance(ft, dict) and ft.get("id") is not None:
                    sensor[str(ft["id"])] = (ft.get("properties") or {}).get("sensor")
        stays = props(os.path.join(out, "stays.geojson"))
        voyages = props(os.path.join(out, "voyages.geojson"))
        stay_of = {o: s["stay_id"] for s in stays for o in s["observation_ids"]}
        by_id = {s["stay_id"]: s for s in stays}
        leaving = collections.defaultdict(list)
        reaching = collections.defaultdict(list)
        for v in voyages:
            leaving[v["origin_stay_id"]].append(v)
            reaching[v["destination_stay_id"]].append(v)

        def radar_only(ids):
            return bool(ids) and all(sensor.get(i) == "sentinel-1" for i in ids)

        def ends(v):
            return "radar-only end" if radar_only(v["origin_observation_ids"]) or radar_only(
                v["destination_observation_ids"]) else "optical at both ends"

        def pairs(p, t):
            return (p["from_port"] == t["from_port"] and p["to_port"] == t["to_port"]
                    and set(p["origin_observation_ids"]) & set(t["origin_observation_ids"])
                    and set(p["destination_observation_ids"])
                    & set(t["destination_observation_ids"]))

        scored = subprocess.run(
            [a.bin, "evaluate", "--truth", os.path.join(sim, "truth.json"), "--result", out,
             "--json"],
            check=True, capture_output=True, text=True)
        right = {o["voyage_id"] for o in json.loads(scored.stdout)["outcomes"] if o["correct"]}
        used = set()
        for p in voyages:
            if p["voyage_id"] not in right:
                continue
            for i, t in enumerate(truth["voyages"]):
                if i not in used and pairs(p, t):
                    used.add(i)
                    break
        for p in voyages:
            ok = "right" if p["voyage_id"] in right else "wrong"
            tally[("predicted", ends(p), ok)] += 1
        for i, t in enumerate(truth["voyages"]):
            if not t["observed_both_ends"]:
                continue
            tally[("true", ends(t), "found" if i in used else "missed")] += 1
            if i in used:
                tally[("cause", "found")] += 1
                continue
            origin = {stay_of.get(o) for o in t["origin_observation_ids"]} - {None}
            dest = {stay_of.get(o) for o in t["destination_observation_ids"]} - {None}
            if not origin or not dest:
                cause = "missed: an end in no stay (its detections unmatched)"
            else:
                out_v = [v for s in origin for v in leaving[s]]
                in_v = [v for s in dest for v in reaching[s]]
                cause = {
                    (False, False): "missed: no voyage leaves the origin or reaches the destination",
                    (True, False): "missed: the origin sails elsewhere, nothing reaches the destination",
                    (False, True): "missed: the destination is reached from elsewhere, nothing leaves the origin",
                    (True, True): "missed: both ends in other voyages",
                }[(bool(out_v), bool(in_v))]
                one = {by_id[s]["vessel_id"] for s in origin} & {by_id[s]["vessel_id"] for s in dest}
                cause += " (one track)" if one else " (two tracks)"
            tally[("cause", cause)] += 1
            if a.v:
                print(seed, t["voyage_id"], t["vessel_id"], t["from_port"], t["to_port"],
                      t["departed"], cause)
    for key in sorted(tally):
        print(f"{tally[key]:5d}  {' / '.join(key)}")


if __name__ == "__main__":
    main()
