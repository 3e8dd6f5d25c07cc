"""Per-field quality control: focus (variance of the Laplacian) and saturation."""

from __future__ import annotations

import logging
from typing import Any

from pipelines.backend import array_namespace, ndimage_for

logger = logging.getLogger(__name__)

__all__ = ["field_qc"]


def field_qc(image: Any, *, saturation: float | None = None, prefix: str = "qc_") -> dict[str, Any]:
    """Focus and saturation of one field.

    Parameters
    ----------
    image : array, shape (Y, X)
        Raw intensities (before any correction), any numeric dtype.
    saturation : float, optional
        Saturation level; default: the dtype's maximum for integer images. Floating
        images without ``saturation`` report a saturated fraction of 0.
    prefix : str
        Prepended to every feature name.

    Returns
    -------
    dict of str to 0-d array
        ``focus`` (variance of the 3x3 Laplacian of the float32 image; higher is
        sharper), ``saturated_fraction`` (fraction of pixels >= saturation),
        ``mean_intensity`` and ``std_intensity``.
    """
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (Y, X), got shape {image.shape}")
    xp = array_namespace(image)
    if saturation is None and image.dtype.kind in "ui":
        saturation = float(xp.iinfo(image.dtype).max)
    img = image.astype(xp.float32, copy=False)
    lap = ndimage_for(xp).laplace(img, mode="reflect")
    if saturation is None:
        saturated = xp.zeros((), dtype=xp.float64)
    else:
        saturated = xp.mean(image >= saturation, dtype=xp.float64)
    feats = {
        "focus": xp.var(lap, dtype=xp.float64),
        "saturated_fraction": saturated,
        "mean_intensity": xp.mean(img, dtype=xp.float64),
        "std_intensity": xp.std(img, dtype=xp.float64),
    }
    return {f"{prefix}{k}": v for k, v in feats.items()}
