#!/usr/bin/python3
"""Renders a shiplink output folder's QGIS project (shiplink.qgs) to a PNG, headless.

Usage: QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/render_project.py OUT_DIR PNG
           [--width 1600] [--height 1000] [--at 2024-03-02T12:00:00Z]

Draws every visible layer of the project at its default view extent (or the layers' extent),
with labels. `--at` renders one frame of the temporal controller (features active at that UTC
instant); without it all features are drawn. Used to make docs/qgis-project.png.
"""

import argparse
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsDateTimeRange,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QDateTime, QSize, Qt  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def render(out_dir, png, width, height, at):
    project = QgsProject.instance()
    path = os.path.join(out_dir, "shiplink.qgs")
    if not project.read(path):
        raise SystemExit(f"render_project: cannot read {path}: {project.error()}")
    root = project.layerTreeRoot()
    layers = [n.layer() for n in root.findLayers() if n.isVisible() and n.layer()]
    bad = [l.name() for l in layers if not l.isValid()]
    if bad:
        raise SystemExit(f"render_project: invalid layers in {path}: {bad}")

    settings = QgsMapSettings()
    settings.setLayers(layers)  # layer tree order: first is drawn on top
    settings.setDestinationCrs(project.crs())
    settings.setTransformContext(project.transformContext())
    settings.setOutputSize(QSize(width, height))
    settings.setBackgroundColor(QColor(214, 232, 244))  # sea
    settings.setFlag(QgsMapSettings.Antialiasing, True)
    settings.setFlag(QgsMapSettings.DrawLabeling, True)
    extent = project.viewSettings().defaultViewExtent()
    if extent.isEmpty():
        extent = QgsRectangle()
        for l in layers:
            if l.name() != "land":
                extent.combineExtentWith(l.extent())
        extent.scale(1.1)
    settings.setExtent(extent)
    if at:
        t = QDateTime.fromString(at, Qt.ISODate)
        if not t.isValid():
            raise SystemExit(f"render_project: bad --at time {at!r}")
        settings.setIsTemporal(True)
        settings.setTemporalRange(QgsDateTimeRange(t, t.addSecs(6 * 3600)))

    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    for err in job.errors():
        print(f"render_project: {err.layerID}: {err.message}", file=sys.stderr)
    if not image.save(png, "PNG"):
        raise SystemExit(f"render_project: cannot write {png}")
    del layers
    project.clear()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("png")
    ap.add_argument("--width", type=int, default=1600)
    ap.add_argument("--height", type=int, default=1000)
    ap.add_argument("--at", help="UTC instant (RFC 3339) of the frame to draw")
    args = ap.parse_args()
    app = QgsApplication([], False)
    app.initQgis()
    try:
        render(args.out_dir, args.png, args.width, args.height, args.at)
    finally:
        app.exitQgis()
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
