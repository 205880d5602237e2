#!/usr/bin/python3
"""Checks a shiplink output folder in headless QGIS (issues 2 and 4).

Usage: QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis/check_outputs.py OUT_DIR

Asserts, for GeoJSON (NAME.geojson + NAME.qml) or GeoPackage (shiplink.gpkg) output:
- every layer named in run.json's "outputs" loads valid, with exactly that many features;
- time fields are DateTime (UTC), counts are integers, km/speed/confidence fields are reals
  (a GeoJSON column that is null in every feature has no type to find and is skipped);
- each layer's default style is the shiplink one (categorized / graduated / rule-based);
- shiplink.qgs loads with every layer valid, relative paths, styles and temporal properties;
- for GeoPackage: `ogrinfo -q` lists the layers and layer_styles holds a default per layer.
Exits 1 with a message on the first failure; prints "N passed, 0 failed" on success.
"""

import json
import os
import sqlite3
import subprocess
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsProject,
    QgsVectorLayer,
    QgsVectorLayerTemporalProperties,
)
from qgis.PyQt.QtCore import QVariant, Qt  # noqa: E402

LAYERS = ["voyages", "stays", "tracks", "links", "unmatched", "rejected"]

RENDERER = {
    "voyages": "categorizedSymbol",
    "stays": "graduatedSymbol",
    "tracks": "RuleRenderer",
    "links": "RuleRenderer",
    "unmatched": "RuleRenderer",
    "rejected": "RuleRenderer",
    "land": "singleSymbol",
}

DATETIME_FIELDS = {
    "voyages": ["departed_after", "departed_before", "arrived_after", "arrived_before"],
    "stays": ["first_seen", "last_seen"],
    "tracks": ["first_seen", "last_seen"],
    "links": ["from_time", "to_time"],
    "unmatched": ["observed_at"],
}

INT_FIELDS = {
    "voyages": ["containers_departing", "containers_arriving"],
    "stays": ["observation_count", "containers_first", "containers_last"],
    "tracks": ["voyage_count", "stay_count"],
    "unmatched": ["containers", "feature_index"],
    "rejected": ["feature_index"],
}

REAL_FIELDS = {
    "voyages": ["route_km", "min_speed_kn", "confidence", "gap_hours", "link_llr",
                "attribute_llr"],
    "stays": ["length_m", "beam_m"],
    "tracks": ["length_m"],
    "links": ["gap_hours", "confidence", "link_llr", "attribute_llr"],
    "unmatched": ["confidence", "length_m", "beam_m", "heading_deg"],
}

# layer: (temporal mode, start field, end field or None)
TEMPORAL = {
    "voyages": (
        QgsVectorLayerTemporalProperties.ModeFeatureDateTimeStartAndEndFromFields,
        "departed_after",
        "arrived_before",
    ),
    "stays": (
        QgsVectorLayerTemporalProperties.ModeFeatureDateTimeStartAndEndFromFields,
        "first_seen",
        "last_seen",
    ),
    "tracks": (
        QgsVectorLayerTemporalProperties.ModeFeatureDateTimeStartAndEndFromFields,
        "first_seen",
        "last_seen",
    ),
    "links": (
        QgsVectorLayerTemporalProperties.ModeFeatureDateTimeStartAndEndFromFields,
        "from_time",
        "to_time",
    ),
    "unmatched": (
        QgsVectorLayerTemporalProperties.ModeFeatureDateTimeInstantFromField,
        "observed_at",
        None,
    ),
}

INT_TYPES = (QVariant.Int, QVariant.LongLong)


class Failure(Exception):
    pass


class Checker:
    def __init__(self):
        self.passed = 0

    def check(self, cond, what):
        if not cond:
            raise Failure(what)
        self.passed += 1


def has_value(layer, field):
    idx = layer.fields().indexOf(field)
    if idx < 0:
        return False
    return any(not (f[idx] is None or (hasattr(f[idx], "isNull") and f[idx].isNull()))
               for f in layer.getFeatures())


def raw_value(layer, fmt, name, feature, fname):
    """The stored text of a time value, read around QGIS (GeoJSON text or GeoPackage SQL)."""
    src = layer.source().split("|")[0]
    if fmt == "geojson":
        with open(src, encoding="utf-8") as fh:
            doc = json.load(fh)
        # QGIS keeps the GeoJSON id as its own field when it is a string.
        fid = feature["id"] if feature.fields().indexOf("id") >= 0 else None
        for f in doc["features"]:
            if fid is None or f.get("id") == fid:
                return f["properties"].get(fname) if fid is not None else None
        return None
    con = sqlite3.connect(src)
    try:
        row = con.execute(f'SELECT "{fname}" FROM "{name}" WHERE fid = ?',
                          (feature.id(),)).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def check_layer(c, name, layer, expected, fmt):
    c.check(layer.isValid(), f"{name}: layer does not load ({layer.source()})")
    c.check(layer.featureCount() == expected,
            f"{name}: {layer.featureCount()} features, run.json says {expected}")
    fields = layer.fields()
    geojson_empty = fmt == "geojson" and expected == 0
    for kind, table, ok in (
        ("DateTime", DATETIME_FIELDS, lambda t: t == QVariant.DateTime),
        ("Integer", INT_FIELDS, lambda t: t in INT_TYPES),
        ("Real", REAL_FIELDS, lambda t: t == QVariant.Double),
    ):
        for fname in table.get(name, []):
            if geojson_empty:
                continue  # an empty GeoJSON collection has no columns
            idx = fields.indexOf(fname)
            c.check(idx >= 0, f"{name}: field {fname} missing")
            if fmt == "geojson" and not has_value(layer, fname):
                continue  # all null: GeoJSON carries no type for it
            ftype = fields.at(idx).type()
            c.check(ok(ftype), f"{name}.{fname}: type {fields.at(idx).typeName()} "
                               f"({ftype}), expected {kind}")
    # Times are UTC: the first non-null value shows the clock time of the stored value.
    # (QGIS 3.22's OGR provider drops the UTC flag and returns local-spec QDateTimes with
    # the UTC wall-clock time, so compare the wall clock, not the instant.)
    for fname in DATETIME_FIELDS.get(name, []):
        idx = fields.indexOf(fname)
        if idx < 0 or fields.at(idx).type() != QVariant.DateTime:
            continue
        for f in layer.getFeatures():
            v = f[idx]
            if v is None or (hasattr(v, "isNull") and v.isNull()):
                continue
            raw = raw_value(layer, fmt, name, f, fname)
            shown = v.toString("yyyy-MM-ddTHH:mm:ss")
            c.check(raw is not None and raw.startswith(shown) and raw.endswith("Z"),
                    f"{name}.{fname}: QGIS shows {shown}, stored {raw!r} (not the same UTC time)")
            break
    renderer = layer.renderer()
    want = RENDERER.get(name)
    # An empty GeoJSON collection has no geometry type: QGIS attaches no renderer to it
    # (the project names the type in its datasource instead).
    if want and not geojson_empty:
        got = renderer.type() if renderer else None
        c.check(got == want, f"{name}: default style renderer is {got}, expected {want} "
                             f"(style not found or not applied)")


def check_map_tip(c, name, layer):
    """Voyages and links show their evidence as a map tip, from the default style."""
    start = {"voyages": "origin ", "links": "from "}.get(name)
    if start is None:
        return
    tip = layer.mapTipTemplate()
    c.check('"evidence"' in tip and '"confidence"' in tip,
            f"{name}: map tip {tip!r} does not show the evidence")
    for f in layer.getFeatures():
        text = f["evidence"]
        c.check(isinstance(text, str) and text.startswith(start) and "nats" in text,
                f"{name}: evidence {text!r}")
        break


def load_layers(out, fmt, names):
    layers = {}
    for name in names:
        if fmt == "gpkg":
            src = f"{os.path.join(out, 'shiplink.gpkg')}|layername={name}"
        else:
            src = os.path.join(out, f"{name}.geojson")
        layers[name] = QgsVectorLayer(src, name, "ogr")
    return layers


def check_project(c, out, outputs):
    path = os.path.join(out, "shiplink.qgs")
    c.check(os.path.isfile(path), "shiplink.qgs missing")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    c.check(os.path.abspath(out) not in text, "shiplink.qgs holds absolute paths")
    project = QgsProject.instance()
    c.check(project.read(path), f"shiplink.qgs does not load: {project.error()}")
    c.check(project.crs().authid() in ("EPSG:4326", "EPSG:3857"),
            f"project CRS is {project.crs().authid()}")
    by_name = {l.name(): l for l in project.mapLayers().values()}
    for name, n in outputs.items():
        c.check(name in by_name, f"project lacks layer {name}")
        layer = by_name[name]
        c.check(layer.isValid(), f"project layer {name} is not valid ({layer.source()})")
        c.check(layer.featureCount() == n,
                f"project layer {name}: {layer.featureCount()} features, expected {n}")
        want = RENDERER.get(name)
        if want:
            c.check(layer.renderer().type() == want,
                    f"project layer {name}: renderer {layer.renderer().type()}, expected {want}")
        if name in TEMPORAL:
            mode, start, end = TEMPORAL[name]
            tp = layer.temporalProperties()
            c.check(tp.isActive(), f"project layer {name}: temporal properties not active")
            c.check(tp.mode() == mode, f"project layer {name}: temporal mode {tp.mode()}")
            c.check(tp.startField() == start, f"project layer {name}: start {tp.startField()}")
            if end:
                c.check(tp.endField() == end, f"project layer {name}: end {tp.endField()}")
    if os.path.exists(os.path.join(out, "land.geojson")):
        c.check("land" in by_name and by_name["land"].isValid(), "project land layer not valid")
        order = [n.name() for n in project.layerTreeRoot().findLayers()]
        c.check(order and order[-1] == "land", f"land is not the bottom layer: {order}")
    span = project.timeSettings().temporalRange()
    if any(outputs.get(n, 0) for n in TEMPORAL):
        c.check(span.begin().isValid() and span.end().isValid(),
                "project temporal range not set")
    extent = project.viewSettings().defaultViewExtent()
    c.check(not extent.isEmpty(), "project has no default view extent")
    layers = list(by_name.values())
    del by_name, layers
    project.clear()


def check_gpkg(c, out, outputs):
    gpkg = os.path.join(out, "shiplink.gpkg")
    res = subprocess.run(["ogrinfo", "-q", gpkg], capture_output=True, text=True)
    c.check(res.returncode == 0, f"ogrinfo failed: {res.stderr.strip()}")
    for name in outputs:
        c.check(f": {name} (" in res.stdout or f": {name}\n" in res.stdout + "\n",
                f"ogrinfo does not list {name}:\n{res.stdout}")
    con = sqlite3.connect(gpkg)
    try:
        rows = con.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML "
            "FROM layer_styles").fetchall()
        idx = con.execute(
            "SELECT table_name FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index'"
        ).fetchall()
    finally:
        con.close()
    styled = {r[0]: r for r in rows}
    for name in outputs:
        if name in RENDERER:
            c.check(name in styled, f"layer_styles has no style for {name}")
            c.check(styled[name][2] == 1, f"layer_styles: {name} style is not the default")
            c.check(RENDERER[name] in styled[name][3], f"layer_styles: {name} QML wrong")
    indexed = {r[0] for r in idx}
    for name in outputs:
        if name != "rejected":
            c.check(name in indexed, f"{name} has no spatial index (gpkg_rtree_index)")


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    out = argv[1]
    c = Checker()
    app = QgsApplication([], False)
    app.initQgis()
    layers = {}
    try:
        with open(os.path.join(out, "run.json"), encoding="utf-8") as fh:
            outputs = json.load(fh)["outputs"]
        outputs = {k: v for k, v in outputs.items() if k in LAYERS}
        c.check(set(outputs) == set(LAYERS), f"run.json outputs lacks layers: {outputs}")
        for f in ("summary.csv", "summary.json", "shiplink.qgs"):
            c.check(os.path.isfile(os.path.join(out, f)), f"{f} missing")
        fmt = "gpkg" if os.path.exists(os.path.join(out, "shiplink.gpkg")) else "geojson"
        if fmt == "geojson":
            for name in LAYERS:
                c.check(os.path.isfile(os.path.join(out, f"{name}.qml")), f"{name}.qml missing")
        layers = load_layers(out, fmt, list(outputs))
        for name, n in outputs.items():
            check_layer(c, name, layers[name], n, fmt)
            if n > 0:
                check_map_tip(c, name, layers[name])
        if fmt == "gpkg":
            check_gpkg(c, out, outputs)
        layers.clear()
        check_project(c, out, outputs)
    except Failure as e:
        print(f"FAIL: {e}")
        print(f"{c.passed} passed, 1 failed")
        layers.clear()
        QgsProject.instance().clear()
        app.exitQgis()
        return 1
    print(f"{out} ({fmt}): {c.passed} passed, 0 failed")
    QgsProject.instance().clear()
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
