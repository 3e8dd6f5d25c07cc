"""Pre-processing steps: Z projection, flat-field and background correction, smoothing."""

from __future__ import annotations

import logging
import math
from typing import Any

from pipelines.backend import array_namespace, ndimage_for

logger = logging.getLogger(__name__)

__all__ = ["flat_field_correct", "gaussian_smooth", "max_projection", "subtract_background"]

BACKGROUND_METHODS = ("gaussian", "tophat")


def as_float32(image: Any) -> Any:
    """Return ``image`` as native float32 on its own backend (no copy when it already is)."""
    xp = array_namespace(image)
    return xp.asarray(image).astype(xp.float32, copy=False)


def max_projection(stack: Any) -> Any:
    """Maximum-intensity projection over Z.

    Parameters
    ----------
    stack : array, shape (Z, Y, X) or (Y, X)
        One channel of a field, any numeric dtype.

    Returns
    -------
    array, shape (Y, X)
        Same dtype as ``stack``; a view when Z == 1.
    """
    xp = array_namespace(stack)
    if stack.ndim == 2:
        return stack
    if stack.ndim != 3:
        raise ValueError(f"stack must have shape (Z, Y, X) or (Y, X), got shape {stack.shape}")
    if stack.shape[0] == 1:
        return stack[0]
    return xp.max(stack, axis=0)


def flat_field_correct(
    image: Any, flat: Any, *, dark: Any = None, normalize: bool = True
) -> Any:
    """Flat-field (illumination) correction ``(image - dark) / flat``.

    Parameters
    ----------
    image : array, shape (Y, X)
    flat : array, shape (Y, X)
        Illumination profile, strictly positive.
    dark : array or None, shape (Y, X)
        Dark-current image subtracted first.
    normalize : bool
        Divide ``flat`` by its mean so that intensities keep their scale.

    Returns
    -------
    array of float32, shape (Y, X)
    """
    xp = array_namespace(image, flat, dark)
    if flat.shape != image.shape:
        raise ValueError(f"flat shape {flat.shape} does not match image shape {image.shape}")
    if dark is not None and dark.shape != image.shape:
        raise ValueError(f"dark shape {dark.shape} does not match image shape {image.shape}")
    img = as_float32(image)
    prof = as_float32(flat)
    if normalize:
        prof = prof / xp.mean(prof)
    if dark is not None:
        img = img - as_float32(dark)
    return img / xp.maximum(prof, xp.float32(1e-6))


def _block_mean(img: Any, factor: int) -> Any:
    """Mean over ``factor`` x ``factor`` blocks (mirror-padded to a multiple of ``factor``)."""
    xp = array_namespace(img)
    ny, nx = img.shape
    py, px = (-ny) % factor, (-nx) % factor
    if py or px:
        img = xp.pad(img, ((0, py), (0, px)), mode="symmetric")
    sy, sx = img.shape[0] // factor, img.shape[1] // factor
    # sum whole rows first (contiguous), then the short runs along X
    rows = img.reshape(sy, factor, sx * factor).sum(axis=1, dtype=xp.float32)
    return rows.reshape(sy, sx, factor).sum(axis=2) / xp.float32(factor * factor)


def _linear_weights(xp: Any, n_out: int, n_in: int, factor: int) -> tuple[Any, Any, Any]:
    """Indices and weights to upsample block centres back to pixel centres."""
    pos = (xp.arange(n_out, dtype=xp.float32) - (factor - 1) / 2.0) / factor
    pos = xp.clip(pos, 0, n_in - 1)
    i0 = xp.floor(pos).astype(xp.int64)
    i1 = xp.minimum(i0 + 1, n_in - 1)
    return i0, i1, (pos - i0).astype(xp.float32)


def _upsample_linear(small: Any, shape: tuple[int, int], factor: int) -> Any:
    """Separable linear interpolation of a block-mean image back to ``shape``.

    Columns first on the small image, then whole rows, so the full-size pass only
    copies contiguous rows.
    """
    xp = array_namespace(small)
    x0, x1, wx = _linear_weights(xp, shape[1], small.shape[1], factor)
    cols = small[:, x0] * (1 - wx) + small[:, x1] * wx
    y0, y1, wy = _linear_weights(xp, shape[0], small.shape[0], factor)
    return cols[y0] * (1 - wy)[:, None] + cols[y1] * wy[:, None]


def subtract_background(
    image: Any,
    *,
    method: str = "gaussian",
    radius: float = 50.0,
    downsample: int = 1,
    clip: bool = False,
) -> Any:
    """Subtract a smooth background estimate.

    Parameters
    ----------
    image : array, shape (Y, X)
        Any numeric dtype; computed in float32.
    method : {"gaussian", "tophat"}
        ``"gaussian"``: background = Gaussian blur with sigma ``radius``.
        ``"tophat"``: white top-hat, background = grey opening with a square of side
        ``2 * radius + 1`` (a rolling-box background).
    radius : float
        Background scale in pixels, larger than the objects; > 0.
    downsample : int
        Estimate the background on ``downsample`` x ``downsample`` block means and
        interpolate it back linearly (1 = exact). A large-radius background is smooth,
        so 8 changes it by far less than the noise and is tens of times faster.
    clip : bool
        Set negative results to zero.

    Returns
    -------
    array of float32, shape (Y, X)
    """
    if method not in BACKGROUND_METHODS:
        raise ValueError(f"method must be one of {BACKGROUND_METHODS}, got {method!r}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius!r}")
    if int(downsample) != downsample or downsample < 1:
        raise ValueError(f"downsample must be an integer >= 1, got {downsample!r}")
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (Y, X), got shape {image.shape}")
    xp = array_namespace(image)
    ndi = ndimage_for(xp)
    img = as_float32(image)
    factor = int(min(downsample, max(1, min(img.shape) // 4)))
    small = _block_mean(img, factor) if factor > 1 else img
    r = radius / factor
    if method == "gaussian":
        bg = ndi.gaussian_filter(small, sigma=r, mode="reflect")
    else:
        size = 2 * round(r) + 1
        bg = ndi.grey_opening(small, size=(size, size), mode="reflect")
    if factor > 1:
        bg = _upsample_linear(bg, img.shape, factor)
    out = img - bg
    if clip:
        out = xp.maximum(out, xp.float32(0))
    return out


def _gaussian_kernel(sigma: float, radius: int) -> list[float]:
    """``scipy.ndimage``'s normalised 1-D Gaussian weights, ``2 * radius + 1`` taps."""
    x = [float(i) for i in range(-radius, radius + 1)]
    phi = [math.exp(-0.5 / (sigma * sigma) * v * v) for v in x]
    total = math.fsum(phi)
    return [v / total for v in phi]


def _smooth_rows(img: Any, weights: list[float]) -> Any:
    """Filter along Y as a weighted sum of shifted whole rows (``mode='nearest'``).

    Row shifts are contiguous, which on CPUs is several times faster than a strided
    1-D filter along the first axis; symmetric taps share one multiplication.
    """
    xp = array_namespace(img)
    r = len(weights) // 2
    ny = img.shape[0]
    padded = xp.pad(img, ((r, r), (0, 0)), mode="edge")
    out = padded[r : r + ny] * xp.float32(weights[r])
    for k in range(1, r + 1):
        pair = padded[r - k : r - k + ny] + padded[r + k : r + k + ny]
        out += pair * xp.float32(weights[r + k])
    return out


def gaussian_smooth(image: Any, *, sigma: float = 1.5, truncate: float = 4.0) -> Any:
    """Gaussian smoothing (separable), in float32.

    Parameters
    ----------
    image : array, shape (Y, X)
    sigma : float
        Standard deviation in pixels, >= 0 (0 returns the float32 image).
    truncate : float
        Kernel half-width in sigmas, > 0 (as ``scipy.ndimage.gaussian_filter``).

    Returns
    -------
    array of float32, shape (Y, X)
        Edges repeat the nearest pixel, as ``skimage.filters.gaussian`` does.
    """
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    if not truncate > 0:
        raise ValueError(f"truncate must be > 0, got {truncate!r}")
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (Y, X), got shape {image.shape}")
    xp = array_namespace(image)
    img = as_float32(image)
    if sigma == 0:
        return img
    ndi = ndimage_for(xp)
    radius = int(truncate * float(sigma) + 0.5)
    out = ndi.gaussian_filter1d(img, sigma, axis=1, truncate=truncate, mode="nearest")
    if radius > 16:  # long kernels: the library filter does fewer passes
        return ndi.gaussian_filter1d(out, sigma, axis=0, truncate=truncate, mode="nearest")
    return _smooth_rows(out, _gaussian_kernel(float(sigma), radius))
