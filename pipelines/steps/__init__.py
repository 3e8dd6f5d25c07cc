"""Image-analysis steps written once for NumPy and CuPy (``xp`` style)."""

from pipelines.steps.measure import aggregate_field, measure_objects
from pipelines.steps.preprocess import (
    flat_field_correct,
    gaussian_smooth,
    max_projection,
    subtract_background,
)
from pipelines.steps.qc import field_qc
from pipelines.steps.segment import (
    expand_labels,
    label,
    remove_small_objects,
    ring_labels,
    watershed_split,
)
from pipelines.steps.threshold import otsu_threshold, threshold_manual, threshold_otsu

__all__ = [
    "aggregate_field",
    "expand_labels",
    "field_qc",
    "flat_field_correct",
    "gaussian_smooth",
    "label",
    "max_projection",
    "measure_objects",
    "otsu_threshold",
    "remove_small_objects",
    "ring_labels",
    "subtract_background",
    "threshold_manual",
    "threshold_otsu",
    "watershed_split",
]
