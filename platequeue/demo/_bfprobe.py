"""What Bio-Formats makes of one file, as JSON: series sizes and the OME-XML plate layout.

Run in its own process (``python -m platequeue.demo._bfprobe --jar JAR FILE``) so that the
process that registers a fixture plate never runs a JVM itself.  The plate layout is
OMERO's importer's source of truth: Plate -> Well (row, column) -> WellSample ->
ImageRef, whose Image's index is the Bio-Formats series (``image.series``).

With ``--pipeline NAME`` every series is also read plainly (whole planes, ``openBytes``)
and measured with that pipeline on the CPU: the ground truth for plates whose pixels
Bio-Formats itself generates (``.fake``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from platequeue.omero import ensure_jvm


def probe(path: str, *, with_pixels: bool = False) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Series sizes, plate layout and (optionally) each series' ``(C, Z, Y, X)`` pixels."""
    from loci.formats import FormatTools, ImageReader, MetadataTools

    meta = MetadataTools.createOMEXMLMetadata()
    r = ImageReader()
    r.setMetadataStore(meta)
    r.setId(path)
    series: list[dict[str, Any]] = []
    fields: list[np.ndarray] = []
    for s in range(int(r.getSeriesCount())):
        r.setSeries(s)
        ptype = str(FormatTools.getPixelTypeString(r.getPixelType()))
        sizes = [int(v) for v in (r.getSizeT(), r.getSizeC(), r.getSizeZ(), r.getSizeY(),
                                  r.getSizeX())]
        series.append({"sizes": sizes, "pixels_type": ptype,
                       "dimension_order": str(r.getDimensionOrder()),
                       "name": str(meta.getImageName(s) or "")})
        if with_pixels:
            fields.append(_plain_field(r, ptype))
    image_index = {str(meta.getImageID(i)): i for i in range(int(meta.getImageCount()))}
    plates = []
    for p in range(int(meta.getPlateCount())):
        wells = []
        for w in range(int(meta.getWellCount(p))):
            samples = [{"position": k,
                        "series": image_index[str(meta.getWellSampleImageRef(p, w, k))]}
                       for k in range(int(meta.getWellSampleCount(p, w)))]
            wells.append({"row": int(meta.getWellRow(p, w).getValue()),
                          "column": int(meta.getWellColumn(p, w).getValue()),
                          "samples": samples})
        rows, cols = meta.getPlateRows(p), meta.getPlateColumns(p)
        plates.append({"name": str(meta.getPlateName(p) or ""),
                       "rows": int(rows.getValue()) if rows is not None else None,
                       "columns": int(cols.getValue()) if cols is not None else None,
                       "wells": wells})
    inner = r.getReader()
    out = {"reader": str(inner.getClass().getSimpleName()), "format": str(r.getFormat()),
           "series": series, "plates": plates,
           "used_files": [str(f) for f in r.getUsedFiles()]}
    r.close()
    return out, fields


def _plain_field(r: Any, ptype: str) -> np.ndarray:
    """The series' first timepoint, whole planes, straight from ``openBytes`` (no tiling)."""
    dt = np.dtype(("<" if r.isLittleEndian() else ">") + {
        "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4",
        "uint32": "u4", "float": "f4", "double": "f8"}[ptype])
    rgb = int(r.getRGBChannelCount())
    planes = np.empty((int(r.getSizeC()), int(r.getSizeZ()), int(r.getSizeY()),
                       int(r.getSizeX())), dtype=dt.newbyteorder("="))
    for c in range(planes.shape[0]):
        for z in range(planes.shape[1]):
            raw = np.frombuffer(bytes(r.openBytes(int(r.getIndex(z, c // rgb, 0)))), dtype=dt)
            if rgb > 1:
                raw = (raw.reshape(planes.shape[2], planes.shape[3], rgb)[..., c % rgb]
                       if r.isInterleaved() else raw.reshape(rgb, -1)[c % rgb])
            planes[c, z] = raw.reshape(planes.shape[2:])
    return planes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m platequeue.demo._bfprobe")
    ap.add_argument("--jar", required=True)
    ap.add_argument("--java-home", default=None)
    ap.add_argument("--pipeline", default=None, help="measure every series with this pipeline")
    ap.add_argument("--channels", default="", help="comma-separated channel names")
    ap.add_argument("--npy", default=None, help="also save series pixels to this .npz")
    ap.add_argument("file")
    args = ap.parse_args(argv)
    ensure_jvm(args.jar, args.java_home)
    want_pixels = bool(args.pipeline or args.npy)
    out, fields = probe(args.file, with_pixels=want_pixels)
    if args.pipeline:
        from pipelines import registry

        pipe = registry.get(args.pipeline)
        channels = [c for c in args.channels.split(",") if c]
        out["features"] = [pipe.run_field(f, channels=channels, params={}) for f in fields]
    if args.npy:
        np.savez(args.npy, *fields)
    json.dump(out, sys.stdout, default=float)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
