#!/usr/bin/env python3
"""Draw the Najin -> Dunay sea route over the GSHHG-f land: docs/route-najin-dunay.png.

Needs matplotlib (Debian: apt-get install -y python3-matplotlib). Run from the repository root:
    cargo build --release
    /tmp/sr/bin/python scripts/searoute_compare.py      # optional: writes the searoute line
    /usr/bin/python3 scripts/draw_route.py [--searoute /tmp/searoute_najin_dunay.geojson]
"""
import argparse
import json
import os
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
LAND = os.path.join(ROOT, "data", "land", "gshhg-f_najin-dunay.geojson")
NAJIN = (130.3000, 42.2360)
DUNAY = (132.3545, 42.9045)


def draw_land(ax, land):
    for f in land["features"]:
        g = f["geometry"]
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        for rings in polys:
            for k, ring in enumerate(rings):
                xs, ys = zip(*[(c[0], c[1]) for c in ring])
                ax.fill(xs, ys, color="#d9d2b6" if k == 0 else "white", ec="#6b6450", lw=0.4, zorder=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shiplink", default=os.path.join(ROOT, "target", "release", "shiplink"))
    ap.add_argument("--searoute", default="/tmp/searoute_najin_dunay.geojson")
    ap.add_argument("-o", "--out", default=os.path.join(ROOT, "docs", "route-najin-dunay.png"))
    args = ap.parse_args()
    land = json.load(open(LAND))
    out = subprocess.run([args.shiplink, "route", "--from", "%f,%f" % NAJIN, "--to", "%f,%f" % DUNAY],
                         check=True, capture_output=True, text=True).stdout
    route = json.loads(out)
    rc = route["geometry"]["coordinates"]
    sr = json.load(open(args.searoute))["geometry"]["coordinates"] if os.path.exists(args.searoute) else None

    fig = plt.figure(figsize=(13, 10))
    main_ax = fig.add_axes([0.05, 0.40, 0.90, 0.56])
    zn = fig.add_axes([0.05, 0.04, 0.42, 0.32])
    zd = fig.add_axes([0.53, 0.04, 0.42, 0.32])
    views = [(main_ax, (130.1, 132.7, 41.95, 43.15)), (zn, (130.24, 130.40, 42.15, 42.25)),
             (zd, (132.28, 132.46, 42.80, 42.94))]
    for ax, (w, e, s, n) in views:
        draw_land(ax, land)
        ax.plot(*zip(*[NAJIN, DUNAY]), color="0.45", lw=1, ls=":", zorder=2,
                label="straight line 184.3 km (28 km over land)")
        if sr:
            ax.plot(*zip(*sr), color="#d62728", lw=1.2, ls="--", zorder=3,
                    label="searoute 249.7 km (9.2 km over land)")
        ax.plot(*zip(*rc), color="#1f5fbf", lw=1.8, marker="o", ms=2.5, zorder=4,
                label="shiplink route %.1f km (none over land, 300 m clearance where the water allows)"
                % route["properties"]["route_km"])
        ax.plot(*zip(*[NAJIN, DUNAY]), "k*", ms=10, zorder=5)
        ax.set_xlim(w, e)
        ax.set_ylim(s, n)
        ax.set_aspect(1 / 0.737)
        ax.tick_params(labelsize=7)
    main_ax.annotate("Najin berth", NAJIN, xytext=(8, 8), textcoords="offset points")
    main_ax.annotate("Dunay berth (Chazhma Bay)", DUNAY, xytext=(-40, 12), textcoords="offset points", ha="right")
    main_ax.legend(loc="lower right", fontsize=9)
    main_ax.set_title("Najin (Rajin) -> Dunay sea route over GSHHG-f land (GSHHG 2.3.6, LGPL-3.0-or-later)")
    zn.set_title("Rajin harbour", fontsize=9)
    zd.set_title("Strelok Bay and the Chazhma inlet (about 310 m wide)", fontsize=9)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
