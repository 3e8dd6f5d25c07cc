"""Synthetic fields with known nuclei, for tests, benchmarks and demos (NumPy only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["SyntheticField", "make_field", "make_touching_pair"]


@dataclass(frozen=True)
class SyntheticField:
    """A 2-D image and its ground truth: one row per nucleus."""

    image: np.ndarray  # (Y, X) in the requested dtype
    centers: np.ndarray  # (n, 2) float, row/column
    radii: np.ndarray  # (n,)
    amplitudes: np.ndarray  # (n,)

    @property
    def count(self) -> int:
        return len(self.radii)


def _soft_disk(img: np.ndarray, cy: float, cx: float, r: float, amp: float,
               edge: float) -> None:
    h = int(np.ceil(r + 6 * edge)) + 1
    y0, y1 = max(0, int(cy) - h), min(img.shape[0], int(cy) + h + 1)
    x0, x1 = max(0, int(cx) - h), min(img.shape[1], int(cx) + h + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    d = np.hypot(yy - cy, xx - cx)
    with np.errstate(over="ignore"):
        img[y0:y1, x0:x1] += amp / (1.0 + np.exp((d - r) / edge))


def make_field(
    shape: tuple[int, int] = (256, 256),
    *,
    spacing: float = 32.0,
    radius: tuple[float, float] = (5.0, 9.0),
    amplitude: tuple[float, float] = (2000.0, 4000.0),
    background: tuple[float, float] = (300.0, 600.0),
    noise: float = 30.0,
    edge: float = 0.8,
    fill: float = 0.8,
    dtype: np.dtype | type = np.uint16,
    seed: int = 0,
) -> SyntheticField:
    """Well separated soft disks on a background with a gentle gradient and noise.

    Nuclei sit on a jittered grid of pitch ``spacing`` (a ``fill`` fraction of the grid
    points is used), so they never touch when ``spacing > 2 * (max radius + 3)``.
    For ``uint8`` the intensities are scaled by 1/20 to fit.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    gy = np.linspace(0.0, 1.0, ny, dtype=np.float32)[:, None]
    gx = np.linspace(0.0, 1.0, nx, dtype=np.float32)[None, :]
    lo, hi = background
    img = (lo + (hi - lo) * (0.6 * gy + 0.4 * gx)).astype(np.float32)
    img = img + rng.normal(0.0, noise, size=shape).astype(np.float32)
    margin = radius[1] + 4
    jitter = max(0.0, (spacing - 2 * (radius[1] + 3)) / 2 - 1)
    centers, radii, amps = [], [], []
    for cy in np.arange(spacing / 2, ny - margin, spacing):
        for cx in np.arange(spacing / 2, nx - margin, spacing):
            if rng.random() > fill:
                continue
            y = float(np.clip(cy + rng.uniform(-jitter, jitter), margin, ny - margin))
            x = float(np.clip(cx + rng.uniform(-jitter, jitter), margin, nx - margin))
            r, a = rng.uniform(*radius), rng.uniform(*amplitude)
            _soft_disk(img, y, x, r, a, edge)
            centers.append((y, x))
            radii.append(r)
            amps.append(a)
    dt = np.dtype(dtype)
    if dt == np.uint8:
        img = img / 20.0
    if dt.kind in "ui":
        info = np.iinfo(dt)
        img = np.clip(np.rint(img), info.min, info.max)
    return SyntheticField(img.astype(dt), np.asarray(centers).reshape(-1, 2),
                          np.asarray(radii), np.asarray(amps))


def make_touching_pair(shape: tuple[int, int] = (64, 96), *, radius: float = 12.0,
                       overlap: float = 0.3) -> np.ndarray:
    """Binary mask of two overlapping disks (for watershed tests)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    cy, cx = shape[0] / 2, shape[1] / 2
    off = radius * (1 - overlap)
    a = np.hypot(yy - cy, xx - (cx - off)) <= radius
    b = np.hypot(yy - cy, xx - (cx + off)) <= radius
    return a | b
