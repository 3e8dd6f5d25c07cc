"""Synthetic fields of view with a known number of nuclei.

Channel 0 ("DAPI") holds well separated, soft-edged disks (radius 5-9 px, peak
signal about 2000-4000) over a background of 300-600 with a gentle gradient and
shot-like noise; channel 1 ("GFP") a cytoplasm-like ring around each nucleus.
Centres are at least ``2.5 * max radius`` apart and no nucleus touches the
border (:func:`max_nuclei` says how many a field surely holds), so a standard
pipeline recovers the count exactly: background subtraction, Gaussian smoothing
(sigma ~1.5), Otsu threshold, connected components, removal of objects under
~20 px (:func:`reference_count`).

An unclamped Otsu threshold splits pure noise, so fields with zero nuclei need
a pipeline with a lower bound on the threshold; the default count range
therefore starts at 1 (pass ``count_range=(0, n)`` to include empty fields).

Everything is deterministic for a seed: :func:`field_rng` derives independent
generators per (plate, well, field).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

logger = logging.getLogger(__name__)

RADIUS_RANGE = (5.0, 9.0)
MIN_DISTANCE_FACTOR = 2.5


@dataclass(frozen=True, slots=True)
class Nucleus:
    """Centre (y, x) in pixels, radius in pixels, peak amplitude over background."""

    y: float
    x: float
    radius: float
    amplitude: float


def field_rng(seed: int, *keys: int) -> np.random.Generator:
    """An independent generator for (seed, plate, well, field...)."""
    return np.random.default_rng([seed, *keys])


def _spacing(radius_range: tuple[float, float]) -> tuple[float, float]:
    """(margin from the border, minimum distance between centres) for *radius_range*."""
    r_min, r_max = radius_range
    if not 0 < r_min <= r_max:
        raise ValueError(f"bad radius_range {radius_range}")
    return r_max + 4.0, MIN_DISTANCE_FACTOR * r_max


def max_nuclei(
    size_y: int, size_x: int, *, radius_range: tuple[float, float] = RADIUS_RANGE
) -> int:
    """How many nuclei :func:`place_nuclei` surely places in a *size_y* x *size_x* field.

    0 when the field cannot hold even one. Centres are drawn in a box of ``ly * lx``
    pixels; each placed centre rules out at most a disk of radius ``min_dist`` for the
    next, so while fewer than ``floor(ly * lx / disk)`` are placed at least one disk's
    area is still free and each draw lands there with probability at least
    ``disk / (ly * lx)``: placement does not run out of tries. One nucleus always fits
    a box of any size.
    """
    margin, min_dist = _spacing(radius_range)
    ly, lx = size_y - 1 - 2 * margin, size_x - 1 - 2 * margin
    if ly < 0 or lx < 0:
        return 0
    return max(1, math.floor(ly * lx / (math.pi * min_dist**2)))


def place_nuclei(
    rng: np.random.Generator,
    count: int,
    *,
    size_y: int,
    size_x: int,
    radius_range: tuple[float, float] = RADIUS_RANGE,
) -> list[Nucleus]:
    """Place *count* non-touching nuclei away from the border (rejection sampling)."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    margin, min_dist = _spacing(radius_range)
    r_min, r_max = radius_range
    if max_nuclei(size_y, size_x, radius_range=radius_range) < 1:
        raise ValueError(f"field {size_y}x{size_x} too small for nuclei of radius {r_max}")
    centres: list[tuple[float, float]] = []
    out: list[Nucleus] = []
    tries = 0
    while len(out) < count:
        tries += 1
        if tries > 2000 * (count + 1):
            raise ValueError(
                f"cannot place {count} nuclei {min_dist:.1f} px apart in {size_y}x{size_x}"
            )
        y = float(rng.uniform(margin, size_y - 1 - margin))
        x = float(rng.uniform(margin, size_x - 1 - margin))
        if any((y - cy) ** 2 + (x - cx) ** 2 < min_dist**2 for cy, cx in centres):
            continue
        centres.append((y, x))
        out.append(
            Nucleus(y, x, float(rng.uniform(r_min, r_max)), float(rng.uniform(1700.0, 3400.0)))
        )
    return out


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def render_field(
    rng: np.random.Generator,
    nuclei: list[Nucleus],
    *,
    size_y: int,
    size_x: int,
    channels: int = 2,
) -> np.ndarray:
    """Render ``(C, Y, X)`` float32 intensities (not yet noisy, not yet cast)."""
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}")
    yy = np.linspace(-0.5, 0.5, size_y, dtype=np.float32)[:, None]
    xx = np.linspace(-0.5, 0.5, size_x, dtype=np.float32)[None, :]
    out = np.empty((channels, size_y, size_x), dtype=np.float32)
    for c in range(channels):
        base = rng.uniform(300.0, 600.0) if c == 0 else rng.uniform(200.0, 400.0)
        gy, gx = rng.uniform(-40.0, 40.0, size=2)
        out[c] = base + gy * yy + gx * xx
    ring_amp = rng.uniform(800.0, 1500.0)
    for n in nuclei:
        half = int(np.ceil(n.radius + 10))
        y0, y1 = max(0, int(n.y) - half), min(size_y, int(n.y) + half + 1)
        x0, x1 = max(0, int(n.x) - half), min(size_x, int(n.x) + half + 1)
        dy = np.arange(y0, y1, dtype=np.float32)[:, None] - n.y
        dx = np.arange(x0, x1, dtype=np.float32)[None, :] - n.x
        d = np.sqrt(dy * dy + dx * dx)
        out[0, y0:y1, x0:x1] += n.amplitude * _sigmoid((n.radius - d) / 0.8)
        if channels > 1:
            ring = _sigmoid((d - n.radius - 1.0) / 0.8) * _sigmoid((n.radius + 6.0 - d) / 1.2)
            out[1, y0:y1, x0:x1] += ring_amp * ring
    return out


def add_noise(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Shot-like noise (sd = sqrt(signal)) plus a little read noise, in place."""
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    img += noise * (np.sqrt(np.maximum(img, 0.0)) + 4.0)
    return img


def make_field(
    rng: np.random.Generator,
    count: int,
    *,
    size_y: int = 256,
    size_x: int = 256,
    channels: int = 2,
    dtype: np.dtype | type = np.uint16,
) -> np.ndarray:
    """A ``(C, Y, X)`` field with exactly *count* nuclei in channel 0, in *dtype*.

    8-bit types get intensities divided by 18 so nuclei stay below saturation.
    """
    nuclei = place_nuclei(rng, count, size_y=size_y, size_x=size_x)
    img = add_noise(rng, render_field(rng, nuclei, size_y=size_y, size_x=size_x, channels=channels))
    dt = np.dtype(dtype)
    if dt.itemsize == 1:  # 8-bit: scale the 16-bit-like range down to fit
        img *= 1.0 / 18.0
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return np.clip(np.rint(img), info.min, info.max).astype(dt)
    return img.astype(dt)


def otsu_threshold(img: np.ndarray, nbins: int = 256) -> float:
    """Otsu's threshold of *img* (same convention as ``skimage.filters.threshold_otsu``)."""
    hist, edges = np.histogram(img.ravel(), bins=nbins)
    centres = (edges[:-1] + edges[1:]) / 2.0
    hist = hist.astype(np.float64)
    w0 = np.cumsum(hist)
    w1 = np.cumsum(hist[::-1])[::-1]
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1e-12)
    m1 = (np.cumsum((hist * centres)[::-1]) / np.maximum(np.cumsum(hist[::-1]), 1e-12))[::-1]
    var = w0[:-1] * w1[1:] * (m0[:-1] - m1[1:]) ** 2
    return float(centres[int(np.argmax(var))])


def reference_count(
    dapi: np.ndarray, *, sigma: float = 1.5, min_size: int = 20, background_size: int = 31
) -> int:
    """Count nuclei in a ``(Y, X)`` plane with the standard pipeline (NumPy/SciPy only).

    Grey opening (``background_size`` square) as background, Gaussian smoothing,
    Otsu threshold, 8-connected labelling, objects under *min_size* pixels dropped.
    """
    img = np.asarray(dapi, dtype=np.float32)
    background = ndimage.grey_opening(img, size=(background_size, background_size))
    smooth = ndimage.gaussian_filter(img - background, sigma)
    mask = smooth > otsu_threshold(smooth)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return 0
    sizes = np.bincount(labels.ravel())[1:]
    return int(np.count_nonzero(sizes >= min_size))
