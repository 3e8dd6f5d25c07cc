"""Per-object measurements (bincount based) and per-field aggregation."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from pipelines.backend import array_namespace, bincount

logger = logging.getLogger(__name__)

__all__ = ["aggregate_field", "measure_objects"]

_TAG = re.compile(r"^[a-z0-9_]*$")


def _suffix(tag: str) -> str:
    return f"_{tag}" if tag else ""


def measure_objects(
    labels: Any,
    intensities: Mapping[str, Any] | None = None,
    *,
    n_labels: int | None = None,
    centroids: bool = True,
) -> dict[str, Any]:
    """Area, centroid and per-channel intensities of every label.

    Parameters
    ----------
    labels : array of int, shape (Y, X)
        0 is background.
    intensities : mapping of str to array, shape (Y, X)
        Intensity images by tag; tag ``""`` gives unsuffixed feature names
        (``mean_intensity``), tag ``"cyto"`` gives ``mean_intensity_cyto``.
    n_labels : int, optional
        Upper bound of the labels; without it ``labels.max()`` is read (a sync).
    centroids : bool
        Also compute ``centroid_y`` and ``centroid_x`` (row, column).

    Returns
    -------
    dict of str to array, each shape (n_labels,)
        Row ``i`` describes label ``i + 1``; labels absent from the image have area 0
        and NaN means. Keys: ``label``, ``area``, ``centroid_y``, ``centroid_x``,
        ``integrated_intensity<_tag>``, ``mean_intensity<_tag>``.
    """
    xp = array_namespace(labels, *(intensities or {}).values())
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D (Y, X), got shape {labels.shape}")
    for tag, img in (intensities or {}).items():
        if not _TAG.match(tag):
            raise ValueError(f"intensity tag must match [a-z0-9_]*, got {tag!r}")
        if img.shape != labels.shape:
            raise ValueError(f"intensity {tag!r} shape {img.shape} != labels {labels.shape}")
    if n_labels is None:
        n_labels = int(labels.max()) if labels.size else 0  # synchronize: no count given
    n = int(n_labels) + 1
    flat = labels.reshape(-1)
    # only object pixels matter: compact once (about 10x fewer pixels to histogram)
    where = xp.flatnonzero(flat)  # synchronize: the number of object pixels
    lab = flat[where]
    area = bincount(lab, length=n).astype(xp.float64)
    safe = xp.where(area > 0, area, xp.nan)
    table: dict[str, Any] = {
        "label": xp.arange(1, n, dtype=xp.int64),
        "area": area[1:],
    }
    if centroids:
        nx = labels.shape[1]
        row = where // nx
        col = where - row * nx
        table["centroid_y"] = (bincount(lab, row.astype(xp.float64), length=n) / safe)[1:]
        table["centroid_x"] = (bincount(lab, col.astype(xp.float64), length=n) / safe)[1:]
    for tag, img in (intensities or {}).items():
        vals = img.reshape(-1)[where].astype(xp.float64)
        total = bincount(lab, vals, length=n)
        table[f"integrated_intensity{_suffix(tag)}"] = total[1:]
        table[f"mean_intensity{_suffix(tag)}"] = (total / safe)[1:]
    return table


def aggregate_field(table: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """Per-field features from a per-object table.

    For each intensity tag: ``mean_intensity<_tag>`` is the mean over objects of their
    mean intensity, ``integrated_intensity<_tag>`` the mean over objects of their
    integrated intensity (CellProfiler's per-image convention) and
    ``total_intensity<_tag>`` the sum over objects. Empty fields give 0 everywhere.

    Parameters
    ----------
    table : mapping of str to array, each shape (n,)
        As returned by :func:`measure_objects`; rows with area 0 are ignored.
    prefix : str
        Prepended to every feature name (e.g. ``"ring_"``).

    Returns
    -------
    dict of str to 0-d array (on the table's device)
        ``count``, ``mean_area``, ``std_area`` and the intensity features.
    """
    if "area" not in table:
        raise ValueError(f"table needs an 'area' column, got columns {sorted(table)}")
    area = table["area"]
    xp = array_namespace(area)
    valid = area > 0
    count = xp.sum(valid).astype(xp.float64)
    denom = xp.maximum(count, 1.0)

    def mean(values: Any) -> Any:
        return xp.sum(xp.where(valid, values, 0.0)) / denom

    mean_area = mean(area)
    feats: dict[str, Any] = {
        "count": count,
        "mean_area": mean_area,
        "std_area": xp.sqrt(mean((area - mean_area) ** 2)),
    }
    for key in table:
        if key.startswith("integrated_intensity"):
            tag = key[len("integrated_intensity") :]
            feats[f"mean_intensity{tag}"] = mean(table[f"mean_intensity{tag}"])
            feats[key] = mean(table[key])
            feats[f"total_intensity{tag}"] = xp.sum(xp.where(valid, table[key], 0.0))
    return {f"{prefix}{k}": v for k, v in feats.items()}
