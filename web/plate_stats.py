"""Plate-level numbers behind the results page: the heatmap's colour scale and ticks, feature
units, control wells and the Z′-factor, per-row and per-column trends (edge effects).

Colour scale: the 2nd and 98th percentiles of the well means, so that one wild well does
not wash out the plate; wells outside are drawn at the scale's end and the true minimum
and maximum are stated next to it.

Control wells are named in the page's query string: ``pos=A1,A2&neg=H11,H12``, each a
comma-separated list of well labels or rectangular ranges (``A1:B2`` is A1, A2, B1, B2).
With at least two positive and two negative wells that have a value,
``Z′ = 1 − 3 (σ₊ + σ₋) / |μ₊ − μ₋|`` (Zhang, Chung & Oldenburg 1999; sample standard
deviations of the well means).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from platequeue.errors import Invalid
from platequeue.omero import well_label

LOW_PCT, HIGH_PCT = 2.0, 98.0
_WELL = re.compile(r"^([A-Za-z]{1,2})0*([1-9][0-9]?)$")

# Units by feature name (after an optional "<prefix>_" such as ring_ or qc_). Measurements
# are per field, in pixels and the image's own intensity units.
_UNITS = (("saturated_fraction", "fraction of pixels"), ("count", "objects per field"),
          ("std_area", "px²"), ("mean_area", "px²"), ("area", "px²"),
          ("integrated_intensity", "intensity × px²"), ("total_intensity", "intensity × px²"),
          ("mean_intensity", "intensity (image units)"),
          ("std_intensity", "intensity (image units)"), ("focus", "intensity² / px⁴"))


def units(feature: str) -> str:
    """The unit of a built-in feature ("" when unknown)."""
    for stem, unit in _UNITS:
        if feature == stem or re.fullmatch(rf"(?:[a-z0-9]+_)?{stem}(?:_[a-z0-9]+)?", feature):
            return unit
    return ""


@dataclass(frozen=True)
class Scale:
    """Where the colours run (``lo``..``hi``) and what the data really span."""

    lo: float
    hi: float
    vmin: float
    vmax: float
    ticks: tuple[float, ...]
    step: float

    def fraction(self, v: float) -> float:
        """Position of ``v`` on the colour scale, clipped to [0, 1]."""
        span = self.hi - self.lo
        return 0.5 if span <= 0 else min(1.0, max(0.0, (v - self.lo) / span))

    def label(self, v: float) -> str:
        return format_number(v, self.step)

    @property
    def clipped_low(self) -> bool:
        return self.vmin < self.lo

    @property
    def clipped_high(self) -> bool:
        return self.vmax > self.hi


def nice_step(span: float, target: int = 5) -> float:
    """A 1-2-5 step giving about ``target`` intervals over ``span``."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def format_number(v: float, step: float | None = None) -> str:
    """A label that is never cut short: with a tick ``step``, as many decimals as the step
    needs; without, four significant digits; thin-space thousands; scientific (``3.29e7``)
    only for very large or very small values."""
    if v == 0:
        return "0"
    mag = abs(v)
    if mag >= 1e7 or mag < 1e-4:
        mant, exp = f"{v:.3e}".split("e")
        return f"{float(mant):g}e{int(exp)}"
    if step is None:  # four significant digits, trailing zeros dropped
        decimals = max(0, 3 - math.floor(math.log10(mag)))
        text = f"{v:,.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text.replace(",", "\u2009")
    decimals = next((d for d in range(10) if abs(round(step, d) - step) <= step * 1e-9), 10)
    return f"{v:,.{decimals}f}".replace(",", "\u2009")


def scale_for(values: Sequence[float]) -> Scale:
    """The robust colour scale (2nd–98th percentile) with ticks on round numbers."""
    x = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        return Scale(0.0, 1.0, 0.0, 1.0, (0.0, 1.0), 0.5)
    vmin, vmax = float(x.min()), float(x.max())
    lo, hi = (float(p) for p in np.percentile(x, [LOW_PCT, HIGH_PCT]))
    if hi <= lo:  # (nearly) all equal: a small band around the value
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return Scale(lo, hi, vmin, vmax, tuple(ticks), step)


def parse_wells(spec: str, rows: int, columns: int) -> list[str]:
    """Well labels from ``"A1,A2,H11:H12"``; :class:`Invalid` names what is wrong."""
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        ends = [e.strip() for e in part.split(":")]
        if len(ends) > 2:
            raise Invalid(f"{part!r}: a range is two wells joined by ':', like A1:B3")
        (r0, c0), (r1, c1) = (_position(ends[0], rows, columns),
                              _position(ends[-1], rows, columns))
        for r in range(min(r0, r1), max(r0, r1) + 1):
            for c in range(min(c0, c1), max(c0, c1) + 1):
                label = well_label(r, c)
                if label not in out:
                    out.append(label)
    return out


def _position(label: str, rows: int, columns: int) -> tuple[int, int]:
    m = _WELL.match(label)
    if m is None:
        raise Invalid(f"{label!r} is not a well label like A1 or P24")
    letters, col = m.group(1).upper(), int(m.group(2)) - 1
    row = 0
    for ch in letters:
        row = row * 26 + (ord(ch) - 64)
    row -= 1
    if row >= rows or col >= columns:
        raise Invalid(f"{label} is not on this {rows}×{columns} plate")
    return row, col


@dataclass(frozen=True)
class ZPrime:
    value: float | None
    pos_mean: float
    pos_sd: float
    neg_mean: float
    neg_sd: float
    n_pos: int
    n_neg: int
    note: str

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "not computable"
        if self.value >= 0.5:
            return "excellent assay window (Z′ ≥ 0.5)"
        if self.value > 0:
            return "marginal assay window (0 < Z′ < 0.5)"
        return "controls overlap (Z′ ≤ 0)"


def z_prime(pos: Sequence[float], neg: Sequence[float]) -> ZPrime:
    """Z′ of the two control groups (``value`` None, with a ``note``, when undefined)."""
    p, n = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    mp, mn = (float(a.mean()) if a.size else math.nan for a in (p, n))
    sp, sn = (float(a.std(ddof=1)) if a.size > 1 else math.nan for a in (p, n))
    note = ""
    value: float | None = None
    if p.size < 2 or n.size < 2:
        note = "needs at least two positive and two negative control wells with values"
    elif mp == mn:
        note = "the two control groups have the same mean"
    else:
        value = 1.0 - 3.0 * (sp + sn) / abs(mp - mn)
    return ZPrime(value, mp, sp, mn, sn, int(p.size), int(n.size), note)


@dataclass(frozen=True)
class Trends:
    rows: tuple[float | None, ...]  # mean of the well means in each row (None: no wells)
    columns: tuple[float | None, ...]
    edge_mean: float | None  # wells in the outermost rows and columns
    interior_mean: float | None

    @property
    def edge_ratio(self) -> float | None:
        if self.edge_mean is None or not self.interior_mean:
            return None
        return self.edge_mean / self.interior_mean


def trends(cells: Sequence[tuple[int, int, float]], rows: int, columns: int) -> Trends:
    """Per-row and per-column means of ``(row, column, value)`` and edge vs interior."""
    def mean(xs: list[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    by_row: list[list[float]] = [[] for _ in range(rows)]
    by_col: list[list[float]] = [[] for _ in range(columns)]
    edge: list[float] = []
    inner: list[float] = []
    for r, c, v in cells:
        if 0 <= r < rows and 0 <= c < columns:
            by_row[r].append(v)
            by_col[c].append(v)
            on_edge = r in (0, rows - 1) or c in (0, columns - 1)
            (edge if on_edge else inner).append(v)
    return Trends(tuple(mean(x) for x in by_row), tuple(mean(x) for x in by_col),
                  mean(edge), mean(inner))
