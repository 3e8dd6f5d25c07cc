"""Composite renderings of one field for the image view: channels as colours, contrast
windows, label outlines, a region at a chosen downsampling, and small bounded caches.

Pure NumPy; the routes are in :mod:`web.pages_image`. A field is read once from the
repository and kept as its Z max projection, shape ``(C, Y, X)``, in an in-process LRU
bounded by bytes (:data:`PLANES_BYTES`); label images of the pipeline's segmentation are
kept the same way, bounded by count.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from web.pages_preview import OUTLINE, outlines

PLANES_BYTES = 256 * 2**20  # projections kept in memory, per web process
LABELS_KEPT = 16
MAX_OUT_SIDE = 2048  # a rendering is never wider or taller than this
AUTO_PERCENTILES = (0.5, 99.5)
_SPEC = re.compile(r"^(\d{1,3})\|([0-9a-fA-F]{6})\|(auto|-?[0-9.eE+-]{1,24})\|"
                   r"(auto|-?[0-9.eE+-]{1,24})$")

T = TypeVar("T")


class ByteLRU(Generic[T]):
    """A thread-safe LRU whose bound is the sum of ``size(value)``."""

    def __init__(self, limit: int, size: Callable[[T], int]) -> None:
        self.limit, self.size = limit, size
        self._data: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()
        with self._lock:
            self._data[key] = value
            total = sum(self.size(v) for v in self._data.values())
            while total > self.limit and len(self._data) > 1:
                _, old = self._data.popitem(last=False)
                total -= self.size(old)
        return value


PLANES: ByteLRU[np.ndarray] = ByteLRU(PLANES_BYTES, lambda a: int(a.nbytes))
LABELS: ByteLRU[np.ndarray] = ByteLRU(LABELS_KEPT, lambda a: 1)
STATS: ByteLRU[list[dict[str, float]]] = ByteLRU(256, lambda a: 1)


@dataclass(frozen=True)
class ChannelSpec:
    """One channel shown: its index, colour (0-255 RGB) and window (None: auto)."""

    index: int
    rgb: tuple[int, int, int]
    low: float | None
    high: float | None


def parse_specs(raw: Sequence[str], n_channels: int) -> list[ChannelSpec]:
    """``index|RRGGBB|low|high`` strings (``auto`` for a percentile window); ValueError."""
    out = []
    for text in raw:
        m = _SPEC.match(text.strip())
        if m is None:
            raise ValueError(f"channel {text!r} is not index|RRGGBB|low|high")
        idx = int(m.group(1))
        if idx >= n_channels:
            raise ValueError(f"channel {idx} does not exist (the field has {n_channels})")
        hexa = m.group(2)
        rgb = (int(hexa[0:2], 16), int(hexa[2:4], 16), int(hexa[4:6], 16))
        lo, hi = (None if v == "auto" else float(v) for v in (m.group(3), m.group(4)))
        if lo is not None and hi is not None and not hi > lo:
            raise ValueError(f"channel {idx}: the maximum must be above the minimum")
        if any(v is not None and not np.isfinite(v) for v in (lo, hi)):
            raise ValueError(f"channel {idx}: the window must be finite numbers")
        out.append(ChannelSpec(idx, rgb, lo, hi))
    return out


def projection(field: np.ndarray) -> np.ndarray:
    """``(C, Z, Y, X)`` to its Z maximum ``(C, Y, X)`` (native byte order)."""
    proj = np.asarray(field).max(axis=1)
    return proj.astype(proj.dtype.newbyteorder("="), copy=False)


def channel_stats(planes: np.ndarray) -> list[dict[str, float]]:
    """Per channel: true minimum and maximum, and the automatic window (percentiles)."""
    out = []
    for plane in planes:
        flat = plane[:: max(1, plane.shape[0] // 512), :: max(1, plane.shape[1] // 512)]
        lo, hi = np.percentile(flat, AUTO_PERCENTILES)
        out.append({"min": float(plane.min()), "max": float(plane.max()),
                    "auto_low": float(lo), "auto_high": float(max(hi, lo + 1e-9))})
    return out


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    w: int
    h: int
    step: int


def region(size_x: int, size_y: int, args: dict[str, Any]) -> Region:
    """The requested region clipped to the image, with a step keeping it ≤ MAX_OUT_SIDE."""
    def num(name: str, default: int) -> int:
        raw = args.get(name)
        if raw in (None, ""):
            return default
        if not str(raw).isdigit() or len(str(raw)) > 7:
            raise ValueError(f"{name} must be a non-negative integer")
        return int(str(raw))

    x, y = min(num("x", 0), size_x - 1), min(num("y", 0), size_y - 1)
    w = max(1, min(num("w", size_x), size_x - x))
    h = max(1, min(num("h", size_y), size_y - y))
    step = max(1, num("step", 1), -(-max(w, h) // MAX_OUT_SIDE))
    return Region(x, y, w, h, step)


def compose(planes: np.ndarray, specs: Sequence[ChannelSpec], stats: list[dict[str, float]],
            reg: Region, labels: np.ndarray | None) -> np.ndarray:
    """RGB uint8 of the region: additive colours of the shown channels, then outlines."""
    sl = (slice(reg.y, reg.y + reg.h, reg.step), slice(reg.x, reg.x + reg.w, reg.step))
    h = len(range(reg.y, reg.y + reg.h, reg.step))
    w = len(range(reg.x, reg.x + reg.w, reg.step))
    acc = np.zeros((h, w, 3), dtype=np.float32)
    for spec in specs:
        st = stats[spec.index]
        lo = st["auto_low"] if spec.low is None else spec.low
        hi = st["auto_high"] if spec.high is None else spec.high
        if hi <= lo:
            hi = lo + 1.0
        plane = planes[spec.index][sl].astype(np.float32)
        norm = np.clip((plane - lo) / (hi - lo), 0.0, 1.0)
        acc += norm[:, :, None] * (np.asarray(spec.rgb, dtype=np.float32) / 255.0)
    rgb = (np.clip(acc, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if labels is not None:
        # outlines on the full-resolution labels, then sampled, so thin edges survive
        crop = labels[reg.y:reg.y + reg.h, reg.x:reg.x + reg.w]
        edge = outlines(crop)
        if reg.step > 1:
            hh, ww = edge.shape[0] // reg.step * reg.step, edge.shape[1] // reg.step * reg.step
            pooled = np.zeros((h, w), dtype=bool)
            blocks = edge[:hh, :ww].reshape(hh // reg.step, reg.step, ww // reg.step, reg.step)
            pooled[: hh // reg.step, : ww // reg.step] = blocks.any(axis=(1, 3))
            edge = pooled
        rgb[edge[:h, :w]] = OUTLINE
    return rgb


DEFAULT_COLOURS = {"dapi": "3d7bff", "hoechst": "3d7bff", "dna": "3d7bff", "nuclei": "3d7bff",
                   "gfp": "22dd44", "fitc": "22dd44", "alexa488": "22dd44",
                   "rfp": "ff3344", "mcherry": "ff3344", "tritc": "ff3344", "cy5": "ff44ff"}
CYCLE = ("22dd44", "ff44ff", "ff3344", "44ddff", "ffdd22", "ffffff")


def default_colour(name: str, index: int) -> str:
    """A conventional colour for a channel name, else one from a cycle."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    for known, colour in DEFAULT_COLOURS.items():
        if key.startswith(known):
            return colour
    return CYCLE[index % len(CYCLE)]

