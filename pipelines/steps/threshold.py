"""Global thresholds: Otsu (bit-identical to ``skimage.filters.threshold_otsu``) and manual."""

from __future__ import annotations

import logging
from typing import Any

from pipelines.backend import array_namespace, bincount

logger = logging.getLogger(__name__)

__all__ = ["histogram", "otsu_threshold", "threshold_manual", "threshold_otsu"]

_SMALL_INT_KINDS = {"u": (1, 2), "i": (1, 2)}


def _float_histogram(image: Any, nbins: int) -> tuple[Any, Any]:
    """``numpy.histogram(image, nbins)`` over [min, max], computed in the image's dtype.

    Follows NumPy's algorithm step by step (float edges from ``linspace``-style arithmetic,
    index from the scaled offset, then the one-ulp corrections against the edges), so
    the counts equal NumPy's; everything stays on the array's device.
    """
    xp = array_namespace(image)
    a = image.reshape(-1)
    ft = a.dtype
    first, last = xp.min(a), xp.max(a)
    same = first == last
    first = xp.where(same, first - ft.type(0.5), first)
    last = xp.where(same, last + ft.type(0.5), last)
    step = (last - first) / ft.type(nbins)
    edges = xp.arange(nbins + 1, dtype=ft) * step + first
    edges[-1] = last
    idx = (((a - first) / (last - first)) * ft.type(nbins)).astype(xp.int64)
    idx = xp.minimum(idx, nbins - 1)
    idx = idx - (a < edges[idx])
    idx = idx + ((a >= edges[idx + 1]) & (idx != nbins - 1))
    counts = bincount(idx, length=nbins)
    centers = (edges[:-1] + edges[1:]) / ft.type(2.0)
    return counts, centers


def histogram(image: Any, *, nbins: int = 256) -> tuple[Any, Any]:
    """Image histogram as scikit-image computes it for thresholds.

    Integer images of 8 or 16 bits get one bin per integer value over the dtype's range
    (empty bins outside [min, max] do not change Otsu's result); floating images get
    ``nbins`` equal bins over [min, max].

    Returns
    -------
    counts : array of int64, shape (nbins,) or (2**bits,)
    centers : array, same shape, bin centres (float64 for integers)
    """
    xp = array_namespace(image)
    kind, size = image.dtype.kind, image.dtype.itemsize
    if kind in _SMALL_INT_KINDS and size in _SMALL_INT_KINDS[kind]:
        n = 1 << (8 * size)
        offset = 0 if kind == "u" else n // 2
        vals = image.astype(xp.int64) + offset if offset else image
        counts = bincount(vals, length=n)
        centers = xp.arange(n, dtype=xp.float64) - offset
        return counts, centers
    if kind in "ui":
        # wide integers: NumPy-style equal bins (scikit-image would use one per value)
        return _float_histogram(image.astype(xp.float64), nbins)
    if kind != "f":
        raise ValueError(f"image dtype must be numeric, got {image.dtype}")
    return _float_histogram(image, nbins)


def otsu_threshold(image: Any, *, nbins: int = 256) -> Any:
    """Otsu's threshold as a 0-d array on the image's device (no host sync).

    Parameters
    ----------
    image : array, any shape
        Integer or floating image.
    nbins : int
        Number of bins for floating images (>= 2).

    Returns
    -------
    0-d array
        Equals ``skimage.filters.threshold_otsu(image, nbins)``; for a constant image
        the constant itself.
    """
    if int(nbins) != nbins or nbins < 2:
        raise ValueError(f"nbins must be an integer >= 2, got {nbins!r}")
    xp = array_namespace(image)
    counts, centers = histogram(image, nbins=int(nbins))
    c = counts.astype(xp.float64)
    cw = c * centers.astype(xp.float64)
    w1 = xp.cumsum(c)
    w2 = xp.cumsum(c[::-1])[::-1]
    with _ignore_float_errors(xp):
        m1 = xp.cumsum(cw) / w1
        m2 = (xp.cumsum(cw[::-1]) / w2[::-1])[::-1]
        var = w1[:-1] * w2[1:] * (m1[:-1] - m2[1:]) ** 2
    var = xp.where(xp.isnan(var), -1.0, var)
    thr = centers[xp.argmax(var)]
    first = image.reshape(-1)[0]
    constant = xp.all(image == first)
    return xp.where(constant, first.astype(thr.dtype), thr)


class _ignore_float_errors:  # noqa: N801 - used as a lower-case context manager
    """``numpy.errstate(all='ignore')`` on NumPy; nothing on CuPy (no FP traps there)."""

    def __init__(self, xp: Any) -> None:
        self._ctx = xp.errstate(all="ignore") if hasattr(xp, "errstate") else None

    def __enter__(self) -> None:
        if self._ctx is not None:
            self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


def threshold_otsu(image: Any, *, nbins: int = 256, factor: float = 1.0) -> Any:
    """Foreground mask ``image > factor * otsu_threshold(image)``.

    Parameters
    ----------
    image : array, shape (Y, X)
    nbins : int
        Histogram bins for floating images, >= 2.
    factor : float
        Multiplies the threshold (> 0); 1 is plain Otsu.

    Returns
    -------
    array of bool, shape (Y, X)
    """
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor!r}")
    thr = otsu_threshold(image, nbins=nbins)
    if factor != 1.0:
        thr = thr * factor
    return image > thr


def threshold_manual(image: Any, *, value: float) -> Any:
    """Foreground mask ``image > value``.

    Parameters
    ----------
    image : array, shape (Y, X)
    value : float
        Threshold in the image's units (finite).

    Returns
    -------
    array of bool, shape (Y, X)
    """
    if value is None or value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"value must be a finite number, got {value!r}")
    return image > value
