"""Plate heatmaps as server-side SVG: one cell per well with a value, a colour bar, outliers.

Outliers by robust z-score: ``z = (x - median) / (1.4826 * MAD)``, marked when ``|z| > 3``.
When the MAD is 0 (more than half the wells equal) the mean absolute deviation
(``* 1.2533``) stands in; when that is 0 too, no well is an outlier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

import numpy as np

OUTLIER_Z = 3.0
ID_COLUMNS = ("plate_id", "well", "row", "column", "field", "image_id")
_VIRIDIS = ((0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)),
            (0.75, (94, 201, 98)), (1.0, (253, 231, 37)))
CELL = 34
MARGIN = 28


@dataclass(frozen=True)
class WellValue:
    label: str
    row: int
    column: int
    value: float  # mean over the well's fields
    fields: int
    z: float

    @property
    def outlier(self) -> bool:
        return abs(self.z) > OUTLIER_Z


def features(columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c not in ID_COLUMNS]


def robust_z(values: Sequence[float]) -> list[float]:
    """Robust z-scores (median and MAD; see the module docstring for the fallbacks)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return []
    med = float(np.median(x))
    dev = np.abs(x - med)
    scale = 1.4826 * float(np.median(dev))
    if scale == 0.0:
        scale = 1.2533 * float(np.mean(dev))
    if scale == 0.0:
        return [0.0] * int(x.size)
    return [float(v) for v in (x - med) / scale]


def well_values(rows: Sequence[Mapping[str, Any]], feature: str) -> list[WellValue]:
    """Per-well means of ``feature`` over fields (fields lacking it are skipped)."""
    acc: dict[str, tuple[int, int, list[float]]] = {}
    for r in rows:
        v = r.get(feature)
        if v is None or not math.isfinite(float(v)):
            continue
        acc.setdefault(str(r["well"]), (int(r["row"]), int(r["column"]), []))[2].append(float(v))
    labels = sorted(acc, key=lambda k: (acc[k][0], acc[k][1]))
    means = [sum(acc[k][2]) / len(acc[k][2]) for k in labels]
    zs = robust_z(means)
    return [WellValue(k, acc[k][0], acc[k][1], m, len(acc[k][2]), z)
            for k, m, z in zip(labels, means, zs, strict=True)]


def colour(t: float) -> str:
    """Viridis-like colour for ``t`` in [0, 1]."""
    t = min(1.0, max(0.0, t))
    for (t0, c0), (t1, c1) in pairwise(_VIRIDIS):
        if t <= t1:
            f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
            r, g, b = (round(a + (b_ - a) * f) for a, b_ in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#fde725"


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def heatmap_svg(values: Sequence[WellValue], *, rows: int, columns: int, feature: str,
                row_names: Sequence[str], link: Mapping[str, str] | None = None,
                selected: str | None = None) -> str:
    """The plate as SVG: well cells (linking to ``?<link>&well=<label>``), a colour bar."""
    lo = min((v.value for v in values), default=0.0)
    hi = max((v.value for v in values), default=1.0)
    span = (hi - lo) or 1.0
    width = MARGIN + columns * CELL + 90
    height = MARGIN + rows * CELL + 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'aria-label="{escape(feature)} per well">',
           '<defs><linearGradient id="cbar" x1="0" y1="1" x2="0" y2="0">']
    out += [f'<stop offset="{t:g}" stop-color="{colour(t)}"/>' for t, _ in _VIRIDIS]
    out.append("</linearGradient></defs>")
    for c in range(columns):
        out.append(f'<text class="axis" x="{MARGIN + c * CELL + CELL / 2}" y="{MARGIN - 8}" '
                   f'text-anchor="middle">{c + 1}</text>')
    for r in range(rows):
        name = row_names[r] if r < len(row_names) else str(r + 1)
        out.append(f'<text class="axis" x="{MARGIN - 8}" y="{MARGIN + r * CELL + CELL / 2 + 4}" '
                   f'text-anchor="end">{escape(name)}</text>')
        for c in range(columns):
            out.append(f'<rect class="absent" x="{MARGIN + c * CELL + 2}" '
                       f'y="{MARGIN + r * CELL + 2}" width="{CELL - 4}" height="{CELL - 4}"/>')
    for v in values:
        x, y = MARGIN + v.column * CELL + 2, MARGIN + v.row * CELL + 2
        cls = "well outlier" if v.outlier else "well"
        if v.label == selected:
            cls += " selected"
        href = "?" + urlencode({**(link or {}), "well": v.label})
        out.append(f'<a href="{escape(href)}"><rect class="{cls}" data-well="{escape(v.label)}" '
                   f'data-value="{v.value!r}" data-z="{v.z:.3f}" x="{x}" y="{y}" '
                   f'width="{CELL - 4}" height="{CELL - 4}" fill="{colour((v.value - lo) / span)}">'
                   f'<title>{escape(v.label)}: {escape(feature)} = {_fmt(v.value)} '
                   f'(robust z {v.z:+.1f})</title></rect>')
        if v.outlier:
            out.append(f'<circle class="outlier-mark" cx="{x + (CELL - 4) / 2}" '
                       f'cy="{y + (CELL - 4) / 2}" r="{CELL / 4}"/>')
        out.append("</a>")
    bx = MARGIN + columns * CELL + 16
    bh = rows * CELL - 4
    out.append(f'<rect class="colour-bar" x="{bx}" y="{MARGIN + 2}" width="14" height="{bh}" '
               'fill="url(#cbar)"/>')
    out.append(f'<text class="axis" x="{bx + 20}" y="{MARGIN + 12}">{_fmt(hi)}</text>')
    out.append(f'<text class="axis" x="{bx + 20}" y="{MARGIN + bh}">{_fmt(lo)}</text>')
    out.append("</svg>")
    return "\n".join(out)
