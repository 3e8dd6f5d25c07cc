"""The operations a pipeline spec can name, with their inputs and declared parameters.

Each op adapts one step function to the engine: it takes named input slots and the
resolved parameters and returns one output (an image, a :class:`Labels`, a per-object
table or a features dict). Label images travel with their count so that no step has to
read ``labels.max()`` back from the device.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pipelines import steps
from pipelines.params import Param

logger = logging.getLogger(__name__)

__all__ = ["OPS", "Labels", "Op"]


class Labels(NamedTuple):
    """A label image and an upper bound of its labels."""

    array: Any
    n: int


LABEL_OPS = frozenset({"label", "remove_small_objects", "watershed_split"})
"""Operations whose output is a label image (:class:`Labels`)."""


@dataclass(frozen=True)
class Op:
    """A step operation: inputs, declared parameters and the adapter that runs it."""

    name: str
    run: Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
    description: str
    inputs: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    mapping_inputs: tuple[str, ...] = ()
    params: Mapping[str, Param] = field(default_factory=dict)
    features: bool = False
    skippable: bool = False  # may be disabled: its output is then its first input


def _labels_op(fn: Callable[..., Any]) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Any]:
    def run(inp: Mapping[str, Any], p: Mapping[str, Any]) -> Labels:
        lab: Labels = inp["labels"]
        return Labels(fn(lab.array, n_labels=lab.n, **p), lab.n)

    return run


def _watershed(inp: Mapping[str, Any], p: Mapping[str, Any]) -> Labels:
    lab: Labels = inp["labels"]
    arr, n = steps.watershed_split(lab.array, n_labels=lab.n, **p)
    return Labels(arr, n)


def _measure(inp: Mapping[str, Any], p: Mapping[str, Any]) -> dict[str, Any]:
    lab: Labels = inp["labels"]
    return steps.measure_objects(lab.array, inp.get("intensity", {}), n_labels=lab.n, **p)


def _ring(inp: Mapping[str, Any], p: Mapping[str, Any]) -> Labels:
    lab: Labels = inp["labels"]
    return Labels(steps.ring_labels(lab.array, **p), lab.n)


def _num(default: float, desc: str, **kw: Any) -> Param:
    return Param("number", default, desc, **kw)


def _int(default: int, desc: str, **kw: Any) -> Param:
    return Param("integer", default, desc, **kw)


_OPS = [
    Op("max_projection", lambda i, p: steps.max_projection(i["image"]),
       "Maximum-intensity projection over Z.", inputs=("image",)),
    Op("flat_field", lambda i, p: steps.flat_field_correct(i["image"], i["flat"],
                                                           dark=i.get("dark"), **p),
       "Flat-field correction (image - dark) / flat.", inputs=("image", "flat"),
       optional_inputs=("dark",), skippable=True,
       params={"normalize": Param("boolean", True, "Divide the flat field by its mean.")}),
    Op("subtract_background", lambda i, p: steps.subtract_background(i["image"], **p),
       "Subtract a smooth background (Gaussian or white top-hat).", inputs=("image",),
       skippable=True,
       params={
           "method": Param("string", "gaussian", "Background model.",
                           choices=("gaussian", "tophat")),
           "radius": _num(50.0, "Background scale in pixels (Gaussian sigma or "
                          "top-hat half-width).", exclusive_minimum=0.0),
           "downsample": _int(1, "Estimate the background on blocks of this size and "
                              "interpolate (1 = exact).", minimum=1, maximum=64),
           "clip": Param("boolean", False, "Set negative values to zero."),
       }),
    Op("gaussian", lambda i, p: steps.gaussian_smooth(i["image"], **p),
       "Gaussian smoothing.", inputs=("image",), skippable=True,
       params={"sigma": _num(1.5, "Standard deviation in pixels.", minimum=0.0, maximum=100.0)}),
    Op("threshold_otsu", lambda i, p: steps.threshold_otsu(i["image"], **p),
       "Foreground = image > factor * Otsu threshold.", inputs=("image",),
       params={
           "nbins": _int(256, "Histogram bins for floating images.", minimum=2, maximum=65536),
           "factor": _num(1.0, "Multiplies the threshold.", exclusive_minimum=0.0),
       }),
    Op("threshold_manual", lambda i, p: steps.threshold_manual(i["image"], **p),
       "Foreground = image > value.", inputs=("image",),
       params={"value": _num(0.0, "Threshold in image units.")}),
    Op("label", lambda i, p: Labels(*steps.label(i["mask"], **p)),
       "Connected-component labelling.", inputs=("mask",),
       params={"connectivity": _int(2, "1: edge neighbours, 2: edge and corner neighbours.",
                                    minimum=1, maximum=2)}),
    Op("remove_small_objects", _labels_op(steps.remove_small_objects),
       "Remove objects smaller than min_size pixels and renumber.", inputs=("labels",),
       skippable=True,
       params={"min_size": _int(20, "Smallest object area kept, in pixels.", minimum=0)}),
    Op("watershed_split", _watershed,
       "Split touching objects (distance-transform watershed).", inputs=("labels",),
       skippable=True,
       params={"min_distance": _int(4, "Minimum distance between object centres, pixels.",
                                    minimum=1, maximum=100)}),
    Op("ring", _ring, "Ring of background around each object, labelled like it.",
       inputs=("labels",),
       params={
           "width": _num(5.0, "Ring width in pixels.", exclusive_minimum=0.0),
           "gap": _num(0.0, "Gap between object and ring in pixels.", minimum=0.0),
       }),
    Op("measure_objects", _measure, "Per-object area, centroid and intensities.",
       inputs=("labels",), mapping_inputs=("intensity",),
       params={"centroids": Param("boolean", True, "Also measure centroids.")}),
    Op("aggregate", lambda i, p: steps.aggregate_field(i["table"], **p),
       "Per-field features from a per-object table.", inputs=("table",), features=True,
       params={"prefix": Param("string", "", "Prefix of the feature names.")}),
    Op("field_qc", lambda i, p: steps.field_qc(i["image"], **p),
       "Focus score and saturated fraction of the raw image.", inputs=("image",),
       features=True,
       params={
           "saturation": Param("number", None, "Saturation level (null: the dtype maximum).",
                                 nullable=True),
           "prefix": Param("string", "qc_", "Prefix of the feature names."),
       }),
    Op("noop", lambda i, p: {"count": 0.0}, "Does nothing (measures platform overhead).",
       features=True),
]

OPS: dict[str, Op] = {op.name: op for op in _OPS}
