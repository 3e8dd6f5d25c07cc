"""Plate heatmaps as server-side SVG: one cell per well with a value, a colour bar with
ticks and units, outliers ringed, wells without a value drawn by why (no well, not processed
yet, failed, cancelled, no value for the feature); per-row/per-column trend bars.

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

from web.plate_stats import Scale, format_number

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


PENDING = ("queued", "running", "retry")
# How a cell without a value is drawn, by why it has none (see the page's legend).
NO_VALUE = {"absent": "no well at this position", "pending": "not processed yet",
            "failed": "failed", "cancelled": "cancelled", "missing": "no value for this feature"}


def _cell_kind(status: str | None) -> str:
    if status is None:
        return "absent"
    if status in PENDING:
        return "pending"
    if status in ("failed", "cancelled"):
        return status
    return "missing"


def _text_width(text: str, px: float = 6.6) -> float:
    return len(text) * px + 4


def heatmap_svg(values: Sequence[WellValue], *, rows: int, columns: int, feature: str,
                row_names: Sequence[str], scale: Scale, unit: str = "",
                states: Mapping[str, str] | None = None,
                controls: Mapping[str, str] | None = None,
                link: Mapping[str, str] | None = None, selected: str | None = None) -> str:
    """The plate as SVG: a cell per position coloured on ``scale`` (linking to
    ``?<link>&well=<label>``), wells without a value drawn by why (``states``: each run
    well's status), control wells marked + / −, and a colour bar with ticks and units."""
    states, controls = states or {}, controls or {}
    by_label = {v.label: v for v in values}
    labels = [scale.label(t) for t in scale.ticks]
    label_w = max(_text_width(t) for t in labels) if labels else 20
    grid_w = columns * CELL
    bx = MARGIN + grid_w + 14
    width = int(bx + 16 + 6 + label_w + 22)
    height = MARGIN + rows * CELL + 8
    title = f"{feature} ({unit})" if unit else feature
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" role="group" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'style="min-width: {int(width * 0.65)}px" '  # narrow screens: scroll, not shrink
           f'aria-label="{escape(title)} per well, colour scale {escape(labels[0])} to '
           f'{escape(labels[-1])}">',
           '<defs><linearGradient id="cbar" x1="0" y1="1" x2="0" y2="0">']
    out += [f'<stop offset="{t:g}" stop-color="{colour(t)}"/>' for t, _ in _VIRIDIS]
    out.append('</linearGradient><pattern id="hatch" width="6" height="6" '
               'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
               '<rect width="6" height="6" fill="#eceff3"/><line x1="0" y1="0" x2="0" y2="6" '
               'stroke="#6e7781" stroke-width="2"/></pattern></defs>')
    for c in range(columns):
        out.append(f'<text class="axis" x="{MARGIN + c * CELL + CELL / 2}" y="{MARGIN - 8}" '
                   f'text-anchor="middle">{c + 1}</text>')
    size = CELL - 4
    for r in range(rows):
        name = row_names[r] if r < len(row_names) else str(r + 1)
        out.append(f'<text class="axis" x="{MARGIN - 8}" y="{MARGIN + r * CELL + CELL / 2 + 4}" '
                   f'text-anchor="end">{escape(name)}</text>')
    positions = {(v.row, v.column): v.label for v in values}
    for known in states:
        positions.setdefault(_position(known), known)
    for r in range(rows):
        for c in range(columns):
            x, y = MARGIN + c * CELL + 2, MARGIN + r * CELL + 2
            label = positions.get((r, c))
            v = by_label.get(label) if label else None
            if v is None:
                kind = _cell_kind(states.get(label) if label else None)
                out.append(_empty_cell(kind, x, y, size, label, feature))
                continue
            cls = "well outlier" if v.outlier else "well"
            if v.label == selected:
                cls += " selected"
            side = (" (above the colour scale)" if v.value > scale.hi else
                    " (below the colour scale)" if v.value < scale.lo else "")
            href = "?" + urlencode({**(link or {}), "well": v.label})
            out.append(
                f'<a href="{escape(href)}"><rect class="{cls}" data-well="{escape(v.label)}" '
                f'data-value="{v.value!r}" data-z="{v.z:.3f}" x="{x}" y="{y}" width="{size}" '
                f'height="{size}" fill="{colour(scale.fraction(v.value))}">'
                f'<title>{escape(v.label)}: {escape(feature)} = {escape(format_number(v.value))}'
                f'{escape(" " + unit if unit else "")}{side} (robust z {v.z:+.1f}, '
                f'{v.fields} field{"" if v.fields == 1 else "s"})</title></rect>')
            if v.outlier:
                out.append(f'<circle class="outlier-mark" cx="{x + size / 2}" '
                           f'cy="{y + size / 2}" r="{CELL / 4}"/>')
            out.append("</a>")
    for label, role in controls.items():
        r, c = _position(label)
        if r < rows and c < columns:
            out.append(f'<text class="control {role}" x="{MARGIN + c * CELL + CELL - 5}" '
                       f'y="{MARGIN + r * CELL + 13}" text-anchor="end">'
                       f'{"+" if role == "pos" else "−"}</text>')
    out += _colour_bar(scale, labels, bx, rows, title)
    out.append("</svg>")
    return "\n".join(out)


def _position(label: str) -> tuple[int, int]:
    letters = label.rstrip("0123456789")
    row = 0
    for ch in letters:
        row = row * 26 + (ord(ch.upper()) - 64)
    return row - 1, int(label[len(letters):]) - 1


def _empty_cell(kind: str, x: float, y: float, size: float, label: str | None,
                feature: str) -> str:
    what = NO_VALUE[kind] if kind != "missing" else f"no value for {feature}"
    tip = f"<title>{escape(label)}: {escape(what)}</title>" if label else ""
    attrs = f' data-well="{escape(label)}"' if label else ""
    if kind == "cancelled":
        attrs += ' fill="url(#hatch)"'
    shape = (f'<rect class="{kind}" data-state="{kind}"{attrs} x="{x}" y="{y}" '
             f'width="{size}" height="{size}">{tip}</rect>')
    x2, y2, mid = x + size, y + size, size / 2
    if kind == "failed":
        shape += (f'<path class="failed-mark" d="M{x + 7} {y + 7}L{x2 - 7} {y2 - 7}'
                  f'M{x2 - 7} {y + 7}L{x + 7} {y2 - 7}"/>')
    elif kind == "pending":
        shape += "".join(f'<circle class="pending-mark" cx="{x + mid + dx}" cy="{y + mid}" '
                         f'r="1.8"/>' for dx in (-6, 0, 6))
    elif kind == "missing":
        shape += (f'<line class="missing-mark" x1="{x + 9}" y1="{y + mid}" x2="{x2 - 9}" '
                  f'y2="{y + mid}"/>')
    return shape


def _colour_bar(scale: Scale, labels: list[str], bx: float, rows: int, title: str) -> list[str]:
    top, bh = MARGIN + 2, rows * CELL - 4
    out = [f'<rect class="colour-bar" x="{bx}" y="{top}" width="14" height="{bh}" '
           'fill="url(#cbar)"/>']
    for t, text in zip(scale.ticks, labels, strict=True):
        ty = top + bh * (1 - scale.fraction(t))
        out.append(f'<line class="tick" x1="{bx + 14}" y1="{ty:.1f}" x2="{bx + 19}" '
                   f'y2="{ty:.1f}"/><text class="axis tick-label" x="{bx + 22}" '
                   f'y="{ty + 4:.1f}">{escape(text)}</text>')
    if scale.clipped_high:  # values above the scale: an arrowhead, as in matplotlib
        out.append(f'<path class="extend" d="M{bx} {top - 1}L{bx + 7} {top - 9}L{bx + 14} '
                   f'{top - 1}Z"><title>wells above {escape(scale.label(scale.hi))}</title></path>')
    if scale.clipped_low:
        out.append(f'<path class="extend" d="M{bx} {top + bh + 1}L{bx + 7} {top + bh + 9}'
                   f'L{bx + 14} {top + bh + 1}Z"><title>wells below '
                   f'{escape(scale.label(scale.lo))}</title></path>')
    tx = bx + 30 + max(_text_width(t) for t in labels)
    out.append(f'<text class="axis bar-title" transform="translate({tx:.0f} {top + bh / 2:.0f}) '
               f'rotate(90)" text-anchor="middle">{escape(title)}</text>')
    return out


def trend_svg(means: Sequence[float | None], names: Sequence[str], *, what: str,
              unit: str = "") -> str:
    """Per-row or per-column means as a line of dots on an axis spanning their range (so a
    few per cent of edge effect shows), outermost rows/columns larger and dark, the median
    dashed."""
    known = [m for m in means if m is not None]
    if not known:
        return ""
    lo, hi = min(known), max(known)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    labels = (format_number(hi), format_number(lo))
    left = max(_text_width(t, 6.0) for t in labels) + 6
    step, h, top = 18, 90, 8
    width = int(left + len(means) * step + 6)
    height = top + h + 24

    def y(v: float) -> float:
        return top + (hi - v) / (hi - lo) * h

    median = float(np.median(known))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'aria-label="mean per {escape(what)}, from {escape(format_number(min(known)))} to '
           f'{escape(format_number(max(known)))}">',
           f'<line class="frame" x1="{left}" y1="{top}" x2="{left}" y2="{top + h}"/>',
           f'<text class="axis" x="{left - 4}" y="{top + 4}" text-anchor="end">'
           f'{escape(labels[0])}</text>',
           f'<text class="axis" x="{left - 4}" y="{top + h}" text-anchor="end">'
           f'{escape(labels[1])}</text>',
           f'<line class="median" x1="{left}" y1="{y(median):.1f}" x2="{width - 2}" '
           f'y2="{y(median):.1f}"><title>median {escape(format_number(median))}</title></line>']
    points = []
    for i, (m, name) in enumerate(zip(means, names, strict=True)):
        x = left + step * i + step / 2
        out.append(f'<text class="axis" x="{x}" y="{top + h + 16}" '
                   f'text-anchor="middle">{escape(name)}</text>')
        if m is not None:
            points.append((x, y(m), m, name, i in (0, len(means) - 1)))
    out.append('<polyline class="trend-line" points="'
               + " ".join(f"{x:.1f},{yy:.1f}" for x, yy, *_ in points) + '"/>')
    for x, yy, m, name, edge in points:
        out.append(f'<circle class="trend-dot{" edge" if edge else ""}" cx="{x:.1f}" '
                   f'cy="{yy:.1f}" r="{4.5 if edge else 3.5}"><title>{escape(what)} '
                   f'{escape(name)}: mean {escape(format_number(m))}'
                   f'{escape(" " + unit if unit else "")}</title></circle>')
    out.append("</svg>")
    return "\n".join(out)
