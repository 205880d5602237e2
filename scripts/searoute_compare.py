#!/usr/bin/env python3
"""Compare searoute (PyPI) with `shiplink route` on the Najin -> Dunay berths (issue 3).

For each route: geodesic length (WGS84, pyproj if present, else Vincenty-free spherical
fallback) and how much of it lies on GSHHG-f land (shapely, lon/lat geometry against the
built-in land polygons, lengths measured geodesically on the intersected pieces).

Setup and run (from the repository root):
    python3 -m venv /tmp/sr && /tmp/sr/bin/pip install searoute shapely pyproj
    cargo build --release
    /tmp/sr/bin/python scripts/searoute_compare.py [--shiplink target/release/shiplink]
"""
import argparse
import json
import math
import os
import subprocess
import sys

import searoute
from shapely.geometry import LineString, shape
from shapely.ops import unary_union

HERE = os.path.dirname(os.path.abspath(__file__))
LAND = os.path.join(HERE, "..", "data", "land", "gshhg-f_najin-dunay.geojson")
NAJIN = (130.3000, 42.2360)
DUNAY = (132.3545, 42.9045)

try:
    from pyproj import Geod

    _GEOD = Geod(ellps="WGS84")

    def seg_m(a, b):
        return _GEOD.inv(a[0], a[1], b[0], b[1])[2]

    GEODESIC = "pyproj WGS84"
except ImportError:  # spherical haversine, within ~0.3 % of WGS84 here

    def seg_m(a, b):
        r = 6371008.8
        la1, la2 = math.radians(a[1]), math.radians(b[1])
        dla, dlo = la2 - la1, math.radians(b[0] - a[0])
        h = math.sin(dla / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin(dlo / 2) ** 2
        return 2 * r * math.asin(math.sqrt(h))

    GEODESIC = "haversine (pyproj not installed)"


def line_km(coords):
    return sum(seg_m(coords[i], coords[i + 1]) for i in range(len(coords) - 1)) / 1000.0


def geom_km(g):
    if g.is_empty:
        return 0.0
    if g.geom_type == "LineString":
        return line_km(list(g.coords))
    if hasattr(g, "geoms"):
        return sum(geom_km(p) for p in g.geoms)
    return 0.0


def land_km(coords, land):
    return geom_km(LineString(coords).intersection(land))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shiplink", default=os.path.join(HERE, "..", "target", "release", "shiplink"))
    args = ap.parse_args()
    with open(LAND) as f:
        land = unary_union([shape(ft["geometry"]) for ft in json.load(f)["features"]])

    rows = []
    straight = [NAJIN, DUNAY]
    rows.append(("straight line", straight))
    # append_orig_dest=True: without it searoute returns only its network part (two nodes,
    # 132.0 E 42.3 N -> 132.03 E 43.02 N, 79.7 km), leaving out the legs to the berths.
    sr = searoute.searoute(list(NAJIN), list(DUNAY), units="km", append_orig_dest=True)
    sr_coords = [tuple(c) for c in sr["geometry"]["coordinates"]]
    rows.append((f"searoute (its own length {sr['properties']['length']:.1f} km)", sr_coords))
    if os.path.exists(args.shiplink):
        out = subprocess.run(
            [args.shiplink, "route", "--from", "%f,%f" % NAJIN, "--to", "%f,%f" % DUNAY],
            check=True, capture_output=True, text=True).stdout
        feat = json.loads(out)
        rows.append((f"shiplink route (route_km {feat['properties']['route_km']})",
                     [tuple(c) for c in feat["geometry"]["coordinates"]]))
    else:
        print(f"note: {args.shiplink} not found; build it with cargo build --release", file=sys.stderr)

    print(f"Najin berth {NAJIN} -> Dunay berth {DUNAY}; lengths: {GEODESIC}; land: GSHHG-f")
    print(f"{'route':<48} {'vertices':>8} {'km':>9} {'km on land':>11}")
    for name, coords in rows:
        print(f"{name:<48} {len(coords):>8} {line_km(coords):>9.3f} {land_km(coords, land):>11.3f}")
    json.dump({"type": "Feature", "properties": {"source": "searoute"},
               "geometry": {"type": "LineString", "coordinates": sr_coords}},
              open(os.environ.get("SEAROUTE_OUT", "/tmp/searoute_najin_dunay.geojson"), "w"))


if __name__ == "__main__":
    main()
