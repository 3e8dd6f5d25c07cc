"""Field previews for the well drill-down: the pipeline's segmentation, outlined, as a PNG.

Nothing new is stored: the web side reads the field from the repository and runs the
pipeline's steps up to its last labelling step with NumPy, then draws the label outlines
over a contrast-stretched max projection of the first channel role. The PNG encoder is a
few lines of ``zlib`` + ``struct`` (8-bit RGB, filter 0).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Mapping, Sequence

import numpy as np

from pipelines.engine import Pipeline

MAX_SIDE = 768
OUTLINE = (255, 214, 0)


def png_rgb(img: np.ndarray) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 image as PNG bytes."""
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"need an (H, W, 3) uint8 image, got {img.dtype} {img.shape}")
    h, w, _ = img.shape
    rows = np.zeros((h, w * 3 + 1), dtype=np.uint8)  # a 0 filter byte starts each row
    rows[:, 1:] = img.reshape(h, w * 3)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b""))


def segment(pipe: Pipeline, field: np.ndarray, *, channels: Sequence[str],
            params: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray]:
    """The display plane (first channel role, max over Z) and the pipeline's labels.

    Parameters
    ----------
    field : ndarray, shape (C, Z, Y, X)
        Native-endian NumPy.

    Returns
    -------
    plane : ndarray, shape (Y, X)
    labels : ndarray of int, shape (Y, X); zeros when the pipeline labels nothing.
    """
    first = next(iter(pipe.spec["channels"]))
    slots = pipe.run_until(field, pipe.label_step(), channels=channels, params=params)
    plane = np.asarray(slots[first]).max(axis=0)
    found = pipe.labels_in(slots)
    labels = (np.asarray(found) if found is not None
              else np.zeros(plane.shape, dtype=np.int32))
    return plane, labels


def outlines(labels: np.ndarray) -> np.ndarray:
    """Boolean mask of object pixels that touch a different label (4-neighbours)."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    return edge & (labels > 0)


def overlay(plane: np.ndarray, labels: np.ndarray, *, max_side: int = MAX_SIDE) -> np.ndarray:
    """Contrast-stretched grey (1st-99.5th percentile) with yellow outlines, RGB uint8."""
    step = max(1, math.ceil(max(plane.shape) / max_side))
    plane = plane[::step, ::step].astype(np.float64)
    edge = outlines(labels)[::step, ::step]
    lo, hi = np.percentile(plane, [1.0, 99.5]) if plane.size else (0.0, 1.0)
    grey = np.clip((plane - lo) / ((hi - lo) or 1.0) * 255.0, 0, 255).astype(np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    rgb[edge] = OUTLINE
    return rgb
