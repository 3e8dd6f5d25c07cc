"""Write pixel files the way OMERO lays them out (fixture and demo only).

* :func:`write_romio`: ``Pixels/<id>``, raw big-endian XYZCT (``(T, C, Z, Y, X)``).
* :func:`null_plane` : the bytes of a plane OMERO allocated but never wrote.

The OME-TIFF, pyramid and OME-Zarr writers live in :mod:`platequeue.demo.formats`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from platequeue.omero import NULL_PLANE_PATTERN, pixel_dtype, romio_relpath

logger = logging.getLogger(__name__)


def _check_5d(data: np.ndarray) -> None:
    if data.ndim != 5:
        raise ValueError(f"pixels must be (T, C, Z, Y, X), got shape {data.shape}")


def write_romio(
    root: str | os.PathLike[str], pixels_id: int, data: np.ndarray, pixels_type: str
) -> Path:
    """Write *data* ``(T, C, Z, Y, X)`` as ``<root>/Pixels/.../<pixels_id>`` big-endian."""
    _check_5d(data)
    path = Path(root) / romio_relpath(pixels_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.ascontiguousarray(data, dtype=pixel_dtype(pixels_type)).tofile(path)
    return path


def null_plane(nbytes: int) -> bytes:
    """A never-written plane of *nbytes*: OMERO's 64-byte pattern, then zeros."""
    if nbytes < len(NULL_PLANE_PATTERN):
        raise ValueError(f"plane of {nbytes} bytes is smaller than the null pattern")
    return NULL_PLANE_PATTERN + bytes(nbytes - len(NULL_PLANE_PATTERN))


def blank_romio_plane(
    root: str | os.PathLike[str], pixels_id: int, *, plane_index: int, plane_bytes: int
) -> None:
    """Overwrite plane *plane_index* of an existing ROMIO file with the null pattern."""
    path = Path(root) / romio_relpath(pixels_id)
    with path.open("r+b") as fh:
        fh.seek(plane_index * plane_bytes)
        fh.write(null_plane(plane_bytes))
