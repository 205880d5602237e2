#!/usr/bin/env python3
"""Mutation fuzzing of `shiplink match` over broken inputs: no panic, a contract exit code.

Usage: scripts/fuzz_inputs.py [--bin target/release/shiplink] [--seed N] [--runs N]
                              [--modes observations,scenes,ports,gdal] [--work DIR]

Each run mutates copies of the fixture (fixtures/najin-dunay) and runs `shiplink match` on
them in a scratch folder:

- observations: five observation files, each with features whose properties, geometry, id
  or structure are replaced by odd values (wrong types, huge or tiny numbers, times without
  an offset or out of range, degenerate, antimeridian and non-vessel geometries, duplicate
  ids), written as a FeatureCollection or GeoJSONSeq; or with random bytes flipped,
  deleted or inserted; or truncated; or with a BOM and CRLF line ends.
- scenes / ports: the fixture's scenes.geojson or `shiplink ports`, mutated the same way,
  passed with --scenes / --ports beside the fixture's observations.
- gdal (needs a binary built with `--features gdal` and ogr2ogr): a GeoPackage with bytes
  flipped or truncated, a shapefile with bytes flipped or companion files missing, a CSV
  with odd cells.

A run fails if `match` exits with anything but 0, 1 or 2, prints "panicked", or exits 0/1
without a run.json. Failing inputs are kept under WORK/fail-<mode>-<run>. The tally of
(mode, exit code) is printed at the end; the script exits 1 if any run failed.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "najin-dunay"

WEIRD = [
    None, True, False, 0, -1, 1e308, -1e308, 2**64, -(2**63), "", "x", "NaN", "Infinity",
    "1e999", [], {}, [[]], [1], [1, 2, 3], [1e300, 2], "2024-03-01T00:00:00",
    "2024-03-01T00:00:60Z", "2024-02-30T00:00:00Z", "9999-12-31T23:59:59+14:00",
    "0000-01-01T00:00:00Z", "2024-03-01T00:00:00-23:59", "2024-03-01 00:00:00Z", "\u0000",
    "é" * 1000, 0.5, -0.0, 1e-320, 361, -181, 91, "SAR", "Sentinel-1", "sentinel-1 ", 1.5e9,
]
SQUARE = [[130.3, 42.2], [130.301, 42.2], [130.301, 42.201], [130.3, 42.201], [130.3, 42.2]]
GEOMETRIES = [
    None,
    {"type": "Point", "coordinates": []},
    {"type": "Point", "coordinates": [130.3]},
    {"type": "Point", "coordinates": [130.3, 42.2, 5, 6]},
    {"type": "Point", "coordinates": [180.0, 90.0]},
    {"type": "Point", "coordinates": [-180, -90]},
    {"type": "Point", "coordinates": ["130.3", "42.2"]},
    {"type": "Point", "coordinates": [1e308, 1e308]},
    {"type": "point", "coordinates": [130.3, 42.2]},
    {"type": "Polygon", "coordinates": []},
    {"type": "Polygon", "coordinates": [[]]},
    {"type": "Polygon", "coordinates": [[[130.3, 42.2]] * 4]},
    {"type": "Polygon", "coordinates": [[[130.3, 42.2], [130.301, 42.201], [130.3, 42.201],
                                         [130.301, 42.2], [130.3, 42.2]]]},
    {"type": "Polygon", "coordinates": [[[179.999, 42.2], [-179.999, 42.2],
                                         [-179.999, 42.201], [179.999, 42.201],
                                         [179.999, 42.2]]]},
    {"type": "Polygon", "coordinates": [[[130.3, 42.2], [131.3, 42.2], [131.3, 43.2],
                                         [130.3, 43.2], [130.3, 42.2]]]},
    {"type": "MultiPolygon", "coordinates": [[SQUARE]]},
    {"type": "LineString", "coordinates": [[130.3, 42.2], [130.4, 42.3]]},
    {"type": "GeometryCollection", "geometries": []},
]
KEYS = ["imo", "mmsi", "name", "containers", "length_m", "beam_m", "heading_deg",
        "confidence", "observed_at", "sensor", "vessel_class", "hull_color", "scene_id",
        "reject_reason", "source_file", "voyage_id", "port_id", "berth_lon", "berth_lat",
        "cloud_fraction"]


def mutate_feature(rng, f):
    """Replaces or removes one part of a feature (in place)."""
    k = rng.randrange(6)
    props = f.get("properties")
    if k == 0 and isinstance(props, dict) and props:
        props[rng.choice(list(props))] = rng.choice(WEIRD)
    elif k == 1:
        f["geometry"] = rng.choice(GEOMETRIES)
    elif k == 2:
        f["id"] = rng.choice(WEIRD + ["dup", "dup"])
    elif k == 3:
        f[rng.choice(["type", "properties", "geometry"])] = rng.choice(WEIRD)
    elif k == 4 and isinstance(props, dict):
        props[rng.choice(KEYS)] = rng.choice(WEIRD)
    else:
        f.pop(rng.choice(["type", "properties", "geometry", "id"]), None)


def mutate_collection(rng, doc):
    for _ in range(rng.randrange(1, 6)):
        if doc["features"]:
            mutate_feature(rng, rng.choice(doc["features"]))


def flip_bytes(rng, data, most=4):
    b = bytearray(data)
    for _ in range(rng.randrange(1, most + 1)):
        if not b:
            break
        pos = rng.randrange(len(b))
        op = rng.randrange(3)
        if op == 0:
            b[pos] = rng.randrange(256)
        elif op == 1:
            del b[pos:pos + rng.randrange(1, 20)]
        else:
            b[pos:pos] = bytes([rng.randrange(256)])
    return bytes(b)


def observations_case(rng, work, _ctx):
    obs = work / "obs"
    obs.mkdir()
    files = sorted((FIXTURE / "observations").glob("*.geojson"))
    for j, path in enumerate(rng.sample(files, 5)):
        text = path.read_text(encoding="utf-8")
        mode = rng.randrange(4)
        if mode <= 1:
            doc = json.loads(text)
            mutate_collection(rng, doc)
            if mode == 1:
                body = "".join(json.dumps(f) + "\n" for f in doc["features"])
                (obs / f"{j}.geojsonl").write_text(body, encoding="utf-8")
            else:
                (obs / f"{j}.geojson").write_text(json.dumps(doc), encoding="utf-8")
        elif mode == 2:
            (obs / f"{j}.geojson").write_bytes(flip_bytes(rng, text.encode()))
        elif rng.random() < 0.5:
            (obs / f"{j}.json").write_text(text[: rng.randrange(len(text))], encoding="utf-8")
        else:
            (obs / f"{j}.json").write_text("\ufeff" + text.replace("\n", "\r\n"),
                                           encoding="utf-8")
    return [str(obs)]


def side_file_case(which):
    def case(rng, work, ctx):
        doc = json.loads(json.dumps(ctx[which]))
        mutate_collection(rng, doc)
        data = json.dumps(doc).encode()
        if rng.random() < 0.3:
            data = flip_bytes(rng, data, most=1)
        path = work / f"{which}.geojson"
        path.write_bytes(data)
        return [str(FIXTURE / "observations"), f"--{which}", str(path)]
    return case


def gdal_case(rng, work, ctx):
    base = ctx["gdal"]
    src = work / "in"
    src.mkdir()
    kind = rng.choice(["gpkg", "shp", "shp-missing", "csv"])
    if kind == "gpkg":
        data = flip_bytes(rng, (base / "base.gpkg").read_bytes(), most=20)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        (src / "x.gpkg").write_bytes(data)
    elif kind.startswith("shp"):
        for ext in ["shp", "shx", "dbf", "prj"]:
            if kind == "shp-missing" and rng.random() < 0.4:
                continue
            data = (base / f"base.{ext}").read_bytes()
            if kind == "shp" and rng.random() < 0.6:
                data = flip_bytes(rng, data, most=6)
            (src / f"x.{ext}").write_bytes(data)
    else:
        lines = (base / "base.csv").read_text(encoding="utf-8").split("\n")
        odd = ["", "nan", "inf", "-1e309", '"', "2024-13-01T00:00:00Z", "POINT(1 2)",
               "x" * 10000, "1,2", "é"]
        for _ in range(rng.randrange(1, 5)):
            j = rng.randrange(len(lines))
            cells = lines[j].split(",")
            cells[rng.randrange(len(cells))] = rng.choice(odd)
            lines[j] = ",".join(cells)
        (src / "x.csv").write_text("\n".join(lines), encoding="utf-8")
    return [str(src)]


def prepare(modes, binary, work):
    ctx = {}
    if "scenes" in modes:
        ctx["scenes"] = json.loads((FIXTURE / "scenes.geojson").read_text(encoding="utf-8"))
    if "ports" in modes:
        out = subprocess.run([binary, "ports"], capture_output=True, check=True, text=True)
        ctx["ports"] = json.loads(out.stdout)
    if "gdal" in modes:
        base = work / "gdal-base"
        base.mkdir()
        first = sorted((FIXTURE / "observations").glob("*.geojson"))[0]
        for driver, name, extra in [("GPKG", "base.gpkg", []),
                                    ("ESRI Shapefile", "base.shp", []),
                                    ("CSV", "base.csv", ["-lco", "GEOMETRY=AS_XY"])]:
            subprocess.run(["ogr2ogr", "-f", driver, str(base / name), str(first)] + extra,
                           check=True, capture_output=True)
        ctx["gdal"] = base
    return ctx


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "shiplink"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--modes", default="observations,scenes,ports")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    cases = {"observations": observations_case, "scenes": side_file_case("scenes"),
             "ports": side_file_case("ports"), "gdal": gdal_case}
    unknown = [m for m in modes if m not in cases]
    if unknown:
        sys.exit(f"unknown mode(s): {', '.join(unknown)}")
    work = Path(args.work) if args.work else Path(os.environ.get("TMPDIR", "/tmp")) / \
        f"shiplink-fuzz-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ctx = prepare(modes, args.bin, work)
    rng = random.Random(args.seed)
    tally, failures = Counter(), 0
    for i in range(args.runs):
        mode = rng.choice(modes)
        run_dir = work / "run"
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir()
        inputs = cases[mode](rng, run_dir, ctx)
        cmd = [args.bin, "match", *inputs, "--out", str(run_dir / "out"), "-q"]
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=600)
        tally[(mode, r.returncode)] += 1
        bad = r.returncode not in (0, 1, 2) or "panicked" in r.stderr
        if r.returncode in (0, 1) and not (run_dir / "out" / "run.json").exists():
            bad = True
        if bad:
            failures += 1
            keep = work / f"fail-{mode}-{i}"
            shutil.copytree(run_dir, keep)
            print(f"FAIL run {i} ({mode}): exit {r.returncode}; kept in {keep}\n"
                  f"{r.stderr[-600:]}", flush=True)
    for (mode, code), n in sorted(tally.items()):
        print(f"{mode:>12} exit {code}: {n}")
    print(f"{args.runs} runs, {failures} failed (seed {args.seed}); work folder {work}")
    if failures == 0:
        shutil.rmtree(work / "run", ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
