"""OMERO's ``Pixels/<id>_pyramid``, and decoding TIFF pages (see also :mod:`._ometiff`).

``Pixels/<id>_pyramid`` (OMERO pyramid format v1.0.0) is a BigTIFF with one IFD per plane
in XYZCT order, described ``OmeroPixelsPyramid v1.0.0``, tiled, each tile one JPEG-2000
codestream holding every resolution ("decompression levels"); only uint8 and uint16.
Level 0 of the IFD ``(t * C + c) * Z + z`` is a plane; tifffile decodes the tiles with
``imagecodecs``.

A tile or strip that does not decode is a :class:`~platequeue.omero.repo.CorruptPixelsError`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from platequeue.omero._model import PixelsInfo
from platequeue.omero._repo import (
    CorruptPixelsError,
    PixelsFileError,
    UnsafePathError,
    pixel_dtype,
)

PYRAMID_DESCRIPTION = "OmeroPixelsPyramid v1.0.0"
Planes = list[tuple[int, int]]  # (c, z) pairs


def decode_page(page: tifffile.TiffPage, info: PixelsInfo, path: Path) -> np.ndarray:
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
            out.append(decode_page(page, info, path))
    return out
