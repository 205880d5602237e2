#!/usr/bin/env python3
"""The shiplink job done the ordinary GeoPandas way: the baseline for scripts/bench.sh.

Reads every observation GeoJSON file with GeoPandas (pd.concat of gpd.read_file per
file), assigns detections to port zones with gpd.sjoin, groups each port's detections
into stays (in time order, a detection joins the open stay whose latest detection is
within 250 m and 30 h, else opens a new stay), links stays into voyages with
scipy.optimize.linear_sum_assignment per ordered port pair (cost from length difference
and time gap; a pair is infeasible unless arrival is 5 h to 10 days after departure),
keeps each stay's cheapest voyage where several port pairs claimed it, and writes
voyages.geojson and stays.geojson.

It is deliberately plain: no scenes, no land, no sea routes, no at-sea detections, no
identity evidence. Timings go to stderr as `baseline: <stage>: <seconds> s`, the same
shape as `shiplink match -v`, so scripts/bench.sh parses both the same way.

Example:
    shiplink ports > ports.geojson
    python geopandas_match.py scenario/observations --ports ports.geojson --out out/
"""

import argparse
import glob
import os
import sys
import time
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from shapely.geometry import LineString, Point

STAY_GAP_M = 250.0
STAY_GAP_S = 30 * 3600.0
MIN_VOYAGE_S = 5 * 3600.0
MAX_VOYAGE_S = 10 * 86400.0
INFEASIBLE = 1e9


def stage(name, t0):
    print(f"baseline: {name:>10}: {time.perf_counter() - t0:8.3f} s", file=sys.stderr)
    return time.perf_counter()


def read_observations(input_dir):
    """pd.concat of gpd.read_file per file; polygons become their centroids."""
    files = sorted(glob.glob(os.path.join(input_dir, "*.geojson")))
    frames = [gpd.read_file(f) for f in files]
    frames = [f for f in frames if len(f) > 0]
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    gdf["observed_at"] = pd.to_datetime(gdf["observed_at"], utc=True, format="ISO8601")
    gdf["t_s"] = (gdf["observed_at"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    if "length_m" not in gdf:
        gdf["length_m"] = np.nan
    gdf["length_m"] = pd.to_numeric(gdf["length_m"], errors="coerce")
    not_point = gdf.geometry.geom_type != "Point"
    if not_point.any():
        gdf.loc[not_point, "geometry"] = gdf.loc[not_point].geometry.centroid
    return gdf, len(files)


def group_stays(in_port):
    """Per port, in time order: join the nearest open stay within 250 m and 30 h."""
    utm = in_port.estimate_utm_crs()
    xy = in_port.to_crs(utm).geometry.get_coordinates().to_numpy()
    in_port = in_port.reset_index(drop=True).assign(x=xy[:, 0], y=xy[:, 1])
    stay_of = np.full(len(in_port), -1, dtype=np.int64)
    next_stay = 0
    for _, grp in in_port.groupby("port_id", sort=True):
        grp = grp.sort_values("t_s", kind="stable")
        pos = grp.index.to_numpy()
        t = grp["t_s"].to_numpy()
        x = grp["x"].to_numpy()
        y = grp["y"].to_numpy()
        open_ids = np.empty(0, dtype=np.int64)
        open_x = np.empty(0)
        open_y = np.empty(0)
        open_t = np.empty(0)
        for i in range(len(grp)):
            keep = t[i] - open_t <= STAY_GAP_S
            open_ids, open_x, open_y, open_t = (
                open_ids[keep],
                open_x[keep],
                open_y[keep],
                open_t[keep],
            )
            d = np.hypot(open_x - x[i], open_y - y[i])
            ok = (d <= STAY_GAP_M) & (open_t < t[i])
            if ok.any():
                j = int(np.argmin(np.where(ok, d, np.inf)))
                sid = open_ids[j]
                open_x[j], open_y[j], open_t[j] = x[i], y[i], t[i]
            else:
                sid = next_stay
                next_stay += 1
                open_ids = np.append(open_ids, sid)
                open_x = np.append(open_x, x[i])
                open_y = np.append(open_y, y[i])
                open_t = np.append(open_t, t[i])
            stay_of[pos[i]] = sid
    in_port = in_port.assign(stay_id=stay_of)
    stays = in_port.groupby("stay_id").agg(
        port_id=("port_id", "first"),
        start_s=("t_s", "min"),
        end_s=("t_s", "max"),
        n=("t_s", "size"),
        length_m=("length_m", "median"),
        lon=("geometry", lambda g: g.x.mean()),
        lat=("geometry", lambda g: g.y.mean()),
    )
    return stays.reset_index()


def link_voyages(stays):
    """linear_sum_assignment per ordered port pair; infeasible pairs at a large cost."""
    voyages = []
    ports = sorted(stays["port_id"].unique())
    for a in ports:
        dep = stays[stays["port_id"] == a]
        for b in ports:
            if a == b:
                continue
            arr = stays[stays["port_id"] == b]
            if len(dep) == 0 or len(arr) == 0:
                continue
            gap = arr["start_s"].to_numpy()[None, :] - dep["end_s"].to_numpy()[:, None]
            dlen = np.abs(
                arr["length_m"].to_numpy()[None, :] - dep["length_m"].to_numpy()[:, None]
            )
            dlen = np.nan_to_num(dlen, nan=50.0)
            cost = dlen / 10.0 + gap / 86400.0
            infeasible = (gap < MIN_VOYAGE_S) | (gap > MAX_VOYAGE_S)
            cost[infeasible] = INFEASIBLE
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] >= INFEASIBLE:
                    continue
                d, e = dep.iloc[r], arr.iloc[c]
                voyages.append(
                    {
                        "from_port": a,
                        "to_port": b,
                        "from_stay": int(d["stay_id"]),
                        "to_stay": int(e["stay_id"]),
                        "departed_at": pd.Timestamp(d["end_s"], unit="s", tz="UTC"),
                        "arrived_at": pd.Timestamp(e["start_s"], unit="s", tz="UTC"),
                        "cost": float(cost[r, c]),
                        "geometry": LineString([(d["lon"], d["lat"]), (e["lon"], e["lat"])]),
                    }
                )
    # Per-pair assignments can use a stay in several pairs: keep each stay's cheapest.
    voyages.sort(key=lambda v: (v["cost"], v["from_stay"], v["to_stay"]))
    used_from, used_to, kept = set(), set(), []
    for v in voyages:
        if v["from_stay"] in used_from or v["to_stay"] in used_to:
            continue
        used_from.add(v["from_stay"])
        used_to.add(v["to_stay"])
        kept.append(v)
    return kept


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input_dir")
    ap.add_argument("--ports", required=True, help="port zones (shiplink ports output)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="Geometry is in a geographic CRS")
    start = t = time.perf_counter()

    obs, n_files = read_observations(args.input_dir)
    ports = gpd.read_file(args.ports)[["port_id", "geometry"]].to_crs(obs.crs)
    t = stage("read", t)

    in_port = gpd.sjoin(obs, ports, how="inner", predicate="within")
    in_port = in_port[~in_port.index.duplicated(keep="first")].drop(columns="index_right")
    t = stage("sjoin", t)

    stays = group_stays(in_port)
    t = stage("stays", t)

    voyages = link_voyages(stays)
    t = stage("voyages", t)

    os.makedirs(args.out, exist_ok=True)
    stays_gdf = gpd.GeoDataFrame(
        stays.assign(
            start=pd.to_datetime(stays["start_s"], unit="s", utc=True),
            end=pd.to_datetime(stays["end_s"], unit="s", utc=True),
        ),
        geometry=[Point(xy) for xy in zip(stays["lon"], stays["lat"])],
        crs=obs.crs,
    )
    stays_gdf.to_file(os.path.join(args.out, "stays.geojson"), driver="GeoJSON")
    if voyages:
        vgdf = gpd.GeoDataFrame(voyages, geometry="geometry", crs=obs.crs)
    else:
        vgdf = gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=obs.crs)
    vgdf.to_file(os.path.join(args.out, "voyages.geojson"), driver="GeoJSON")
    t = stage("write", t)
    stage("total", start)
    print(
        f"baseline: {n_files} files, {len(obs)} detections, {len(in_port)} in ports, "
        f"{len(stays)} stays, {len(voyages)} voyages",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
