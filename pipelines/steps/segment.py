"""Segmentation steps: labelling, small-object removal, watershed split, label rings.

Label images are int32 with 0 as background. Functions that need the number of labels
take ``n_labels`` (an upper bound is enough); without it they read ``labels.max()`` back
from the device, a synchronization the engine avoids by carrying the count along.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from pipelines.backend import array_namespace, bincount, ndimage_for

logger = logging.getLogger(__name__)

__all__ = ["expand_labels", "label", "remove_small_objects", "ring_labels", "watershed_split"]


def _structure(connectivity: int) -> np.ndarray:
    """3x3 structuring element on the host (both ndimage modules take NumPy here)."""
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 or 2, got {connectivity!r}")
    if connectivity == 2:
        return np.ones((3, 3), dtype=bool)
    return np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def _count(labels: Any, n_labels: int | None) -> int:
    if n_labels is not None:
        if n_labels < 0:
            raise ValueError(f"n_labels must be >= 0, got {n_labels!r}")
        return int(n_labels)
    return int(labels.max()) if labels.size else 0  # synchronize: only without n_labels


def label(mask: Any, *, connectivity: int = 2) -> tuple[Any, int]:
    """Connected components of a binary mask.

    Parameters
    ----------
    mask : array of bool, shape (Y, X)
    connectivity : {1, 2}
        1: edge neighbours; 2: edge and corner neighbours (scikit-image's default).

    Returns
    -------
    labels : array of int32, shape (Y, X)
        0 background, objects 1..n in raster order of their first pixel.
    n : int
        Number of objects.
    """
    xp = array_namespace(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (Y, X), got shape {mask.shape}")
    ndi = ndimage_for(xp)
    out = xp.empty(mask.shape, dtype=xp.int32)
    n = ndi.label(mask, structure=_structure(connectivity), output=out)
    return out, int(n)  # synchronize: CuPy's label returns the count on the host


def relabel_sequential(labels: Any, keep: Any) -> Any:
    """Keep labels where ``keep[label]`` is True, renumbered 1..k in label order."""
    xp = array_namespace(labels)
    keep = keep.copy()
    keep[0] = False
    new_ids = (xp.cumsum(keep) * keep).astype(xp.int32)
    return new_ids[labels]


def remove_small_objects(labels: Any, *, min_size: int = 20, n_labels: int | None = None) -> Any:
    """Remove objects smaller than ``min_size`` pixels and renumber the rest.

    Parameters
    ----------
    labels : array of int, shape (Y, X)
    min_size : int
        Objects with area < ``min_size`` are removed (>= 0).
    n_labels : int, optional
        Upper bound of the labels (saves a device->host read).

    Returns
    -------
    array of int32, shape (Y, X)
        Labels 1..k in the order of the input labels.
    """
    if int(min_size) != min_size or min_size < 0:
        raise ValueError(f"min_size must be an integer >= 0, got {min_size!r}")
    n = _count(labels, n_labels)
    sizes = bincount(labels, length=n + 1)
    return relabel_sequential(labels, sizes >= min_size)


def watershed_split(
    labels: Any, *, min_distance: int = 4, n_labels: int | None = None
) -> tuple[Any, int]:
    """Split touching objects by a marker-based watershed on the distance transform.

    Algorithm (the same on both backends): ``d`` = Euclidean distance of each object
    pixel to the background; markers = connected plateaus where ``d`` equals its maximum
    over a ``(2 * min_distance + 1)``-square window. Markers then grow by seeded region
    growing ordered by distance: for each level ``L = ceil(max d) .. 0``, unlabelled
    object pixels with ``d >= L`` take a label among their 8 neighbours (the largest
    and the smallest in turn, so that no basin is favoured), repeated until nothing
    changes; this floods ``-d`` from its minima like a
    watershed, with basins meeting at the necks between nuclei. Pixels no marker
    reaches keep their original object (offset to a new label). Growth within a level
    is synchronous, so the line between two basins can sit a pixel or two off the line
    of a priority-queue watershed (``skimage.segmentation.watershed``); object counts
    agree.

    Parameters
    ----------
    labels : array of int, shape (Y, X)
    min_distance : int
        Minimum distance between markers in pixels (>= 1); about the smallest radius.
    n_labels : int, optional
        Upper bound of the input labels.

    Returns
    -------
    labels : array of int32, shape (Y, X)
        Renumbered 1..k.
    n : int
        Upper bound of the output labels.
    """
    if int(min_distance) != min_distance or min_distance < 1:
        raise ValueError(f"min_distance must be an integer >= 1, got {min_distance!r}")
    xp = array_namespace(labels)
    ndi = ndimage_for(xp)
    n_in = _count(labels, n_labels)
    mask = labels > 0
    dist = ndi.distance_transform_edt(mask).astype(xp.float32)
    size = 2 * int(min_distance) + 1
    peaks = mask & (dist == ndi.maximum_filter(dist, size=size, mode="constant"))
    markers, n_markers = label(peaks, connectivity=2)
    out = markers
    big = xp.int32(xp.iinfo(xp.int32).max)
    top = int(xp.ceil(xp.max(dist))) if dist.size else 0  # synchronize: number of levels
    turn = 0
    for level in range(top, -1, -1):
        allowed = mask & (dist >= level)
        while True:
            if turn % 2:  # alternate the winner of ties: largest, then smallest label
                grown = ndi.minimum_filter(xp.where(out == 0, big, out), size=3, mode="nearest")
                grown = xp.where(grown == big, 0, grown)
            else:
                grown = ndi.maximum_filter(out, size=3, mode="constant")
            turn += 1
            new = xp.where((out == 0) & allowed, grown, out)
            changed = bool(xp.any(new != out))  # synchronize: flooding converged?
            out = new
            if not changed:
                break
    orphans = mask & (out == 0)
    out = xp.where(orphans, labels.astype(xp.int32) + n_markers, out)
    n = n_markers + n_in
    present = bincount(out, length=n + 1) > 0
    return relabel_sequential(out, present), n


def _nearest(labels: Any) -> tuple[Any, Any]:
    xp = array_namespace(labels)
    ndi = ndimage_for(xp)
    dist, idx = ndi.distance_transform_edt(labels == 0, return_indices=True)
    return dist, labels[tuple(idx)]


def expand_labels(labels: Any, *, distance: float = 1.0) -> Any:
    """Grow labels into the background by up to ``distance`` pixels without overlap.

    Same result as ``skimage.segmentation.expand_labels``: each background pixel within
    ``distance`` takes the label of its nearest object pixel.

    Parameters
    ----------
    labels : array of int, shape (Y, X)
    distance : float
        Euclidean distance in pixels (>= 0).

    Returns
    -------
    array, shape (Y, X), dtype of ``labels``
    """
    if not distance >= 0:
        raise ValueError(f"distance must be >= 0, got {distance!r}")
    xp = array_namespace(labels)
    dist, nearest = _nearest(labels)
    return xp.where(dist <= distance, nearest, 0).astype(labels.dtype)


def ring_labels(labels: Any, *, width: float = 5.0, gap: float = 0.0) -> Any:
    """Ring around each object (e.g. the cytoplasm around a nucleus), labelled like it.

    Parameters
    ----------
    labels : array of int, shape (Y, X)
    width : float
        Ring width in pixels (> 0).
    gap : float
        Distance between the object and the ring's inner edge (>= 0).

    Returns
    -------
    array, shape (Y, X), dtype of ``labels``
        Background pixels with ``gap < d <= gap + width`` from their nearest object carry
        that object's label; everything else is 0.
    """
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width!r}")
    if not gap >= 0:
        raise ValueError(f"gap must be >= 0, got {gap!r}")
    xp = array_namespace(labels)
    dist, nearest = _nearest(labels)
    ring = (labels == 0) & (dist > gap) & (dist <= gap + width)
    return xp.where(ring, nearest, 0).astype(labels.dtype)
