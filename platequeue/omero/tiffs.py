"""TIFF-family sources: OMERO's ``Pixels/<id>_pyramid`` and OME-TIFF original files.

``Pixels/<id>_pyramid`` (OMERO pyramid format v1.0.0) is a BigTIFF with one IFD per plane
in XYZCT order, described ``OmeroPixelsPyramid v1.0.0``, tiled, each tile one JPEG-2000
codestream holding every resolution ("decompression levels"); only uint8 and uint16.
Level 0 of the IFD ``(t * C + c) * Z + z`` is a plane; tifffile decodes the tiles with
``imagecodecs``.

An OME-TIFF may name other files in its OME-XML (``TiffData/UUID@FileName``); each must be
a relative path without ``..`` that resolves under the allowed roots and exists, checked
before tifffile opens any of them, and every page read must come from an allowed file.
A tile or strip that does not decode is a :class:`~platequeue.omero.repo.CorruptPixelsError`.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import tifffile

from platequeue.omero._model import PixelsInfo
from platequeue.omero._repo import (
    CorruptPixelsError,
    PixelsFileError,
    UnsafePathError,
    pixel_dtype,
)
from platequeue.omero.roots import AllowedRoots

PYRAMID_DESCRIPTION = "OmeroPixelsPyramid v1.0.0"
Planes = list[tuple[int, int]]  # (c, z) pairs


def _decode(page: tifffile.TiffPage, info: PixelsInfo, path: Path) -> np.ndarray:
    want = (info.size_y, info.size_x)
    if tuple(page.shape) != want:
        raise PixelsFileError(f"image {info.image_id}: {path} page {page.index} has shape "
                              f"{tuple(page.shape)}, OMERO's pixels row says {want}")
    try:
        data = page.asarray(maxworkers=1)
    except (UnsafePathError, OSError):
        raise
    except Exception as exc:  # the codec's own error type: corrupt tile or strip bytes
        raise CorruptPixelsError(f"image {info.image_id}: {path} page {page.index} does not "
                                 f"decode: {type(exc).__name__}: {exc}") from exc
    expected = pixel_dtype(info.pixels_type).newbyteorder("=")
    if data.dtype.newbyteorder("=") != expected:
        raise PixelsFileError(f"image {info.image_id}: {path} holds {data.dtype}, OMERO's "
                              f"pixels row says {info.pixels_type}")
    return np.asarray(data)


def read_pyramid(path: Path, info: PixelsInfo, t: int, planes: Planes) -> list[np.ndarray]:
    """Level 0 of the given planes of timepoint *t* from ``Pixels/<id>_pyramid``."""
    out = []
    with tifffile.TiffFile(path) as tf:
        n = len(tf.pages)
        for c, z in planes:
            index = (t * info.size_c + c) * info.size_z + z
            if index >= n:
                raise PixelsFileError(f"image {info.image_id}: {path} has {n} planes, "
                                      f"plane z={z} c={c} t={t} is missing")
            page = tf.pages[index]
            assert isinstance(page, tifffile.TiffPage)
            out.append(_decode(page, info, path))
    return out


def check_references(tf: tifffile.TiffFile, path: Path, roots: AllowedRoots,
                     image: int) -> None:
    """Refuse an OME-TIFF whose OME-XML names a file outside the allowed roots or missing."""
    xml = tf.ome_metadata
    if not xml:
        return
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise PixelsFileError(f"image {image}: {path} has invalid OME-XML: {exc}") from None
    for el in root.iter():
        if not el.tag.endswith("UUID") or "FileName" not in el.attrib:
            continue
        name = el.attrib["FileName"]
        target = roots.join(path.parent, name, image=image, what="OME-TIFF TiffData file")
        if not target.is_file():
            raise PixelsFileError(f"image {image}: {path} refers to {name!r}, which is missing")


def read_ometiff(path: Path, roots: AllowedRoots, info: PixelsInfo, t: int,
                 planes: Planes) -> list[np.ndarray]:
    """The given planes of timepoint *t* of series ``image.series`` of an OME-TIFF."""
    out = []
    reopened: list[tifffile.FileHandle] = []  # tifffile closes the files an OME-TIFF names
    with tifffile.TiffFile(path) as tf:
        check_references(tf, path, roots, info.image_id)
        if info.series >= len(tf.series):
            raise PixelsFileError(f"image {info.image_id}: {path} has {len(tf.series)} "
                                  f"series, OMERO says series {info.series}")
        series = tf.series[info.series]
        axes = series.get_axes(False)
        shape = series.get_shape(False)
        try:
            for c, z in planes:
                index = 0
                for ax, n in zip(axes, shape, strict=True):
                    if ax in "YXS":
                        continue
                    index = index * n + {"T": t, "C": c, "Z": z}.get(ax, 0)
                frame = series.pages[index]
                if frame is None:
                    raise PixelsFileError(f"image {info.image_id}: {path} series "
                                          f"{info.series} has no plane z={z} c={c} t={t}")
                fh = frame.parent.filehandle
                roots.resolve(fh.path, image=info.image_id, what="OME-TIFF file")
                if fh.closed:
                    fh.open()
                    reopened.append(fh)
                page = frame.aspage()
                assert isinstance(page, tifffile.TiffPage)
                out.append(_decode(page, info, path))
        finally:
            for fh in reopened:
                fh.close()
    return out
