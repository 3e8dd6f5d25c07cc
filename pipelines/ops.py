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
    title: str = ""  # human name of the step in forms ("Background subtraction")


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
       "Maximum-intensity projection over Z.", inputs=("image",), title="Z projection"),
    Op("flat_field", lambda i, p: steps.flat_field_correct(i["image"], i["flat"],
                                                           dark=i.get("dark"), **p),
       "Flat-field correction (image - dark) / flat.", inputs=("image", "flat"),
       optional_inputs=("dark",), skippable=True, title="Flat-field correction",
       params={"normalize": Param("boolean", True, "Divide the flat field by its mean.",
                                  label="Normalise the flat field", advanced=True)}),
    Op("subtract_background", lambda i, p: steps.subtract_background(i["image"], **p),
       "Subtract a smooth background (Gaussian or white top-hat).", inputs=("image",),
       skippable=True, title="Background subtraction",
       params={
           "method": Param("string", "gaussian", "Background model: a wide Gaussian blur, "
                           "or a white top-hat (keeps objects smaller than the radius).",
                           choices=("gaussian", "tophat"), label="Method"),
           "radius": _num(50.0, "Background scale (Gaussian sigma or top-hat half-width); "
                          "larger than your biggest object.", exclusive_minimum=0.0,
                          maximum=10_000.0, label="Radius", unit="px"),
           "downsample": _int(1, "Estimate the background on blocks of this size and "
                              "interpolate (1 = exact, larger = faster).", minimum=1,
                              maximum=64, label="Speed-up block size", unit="px",
                              advanced=True),
           "clip": Param("boolean", False, "Set negative values to zero.",
                         label="Clip negative values", advanced=True),
       }),
    Op("gaussian", lambda i, p: steps.gaussian_smooth(i["image"], **p),
       "Gaussian smoothing.", inputs=("image",), skippable=True, title="Smoothing",
       params={"sigma": _num(1.5, "Width of the Gaussian blur before thresholding; about a "
                             "quarter of a nucleus radius.", minimum=0.0, maximum=100.0,
                             label="Smoothing width (sigma)", unit="px")}),
    Op("threshold_otsu", lambda i, p: steps.threshold_otsu(i["image"], **p),
       "Foreground = image > factor * Otsu threshold.", inputs=("image",),
       title="Threshold (Otsu)",
       params={
           "nbins": _int(256, "Histogram bins for floating-point images.", minimum=2,
                         maximum=65536, label="Histogram bins", advanced=True),
           "factor": _num(1.0, "Multiplies the automatic (Otsu) threshold: above 1 is "
                          "stricter, below 1 keeps dimmer objects.", exclusive_minimum=0.0,
                          maximum=100.0, label="Threshold factor", unit="x Otsu"),
       }),
    Op("threshold_manual", lambda i, p: steps.threshold_manual(i["image"], **p),
       "Foreground = image > value.", inputs=("image",), title="Threshold (fixed)",
       params={"value": _num(0.0, "Pixels brighter than this are foreground.",
                             label="Threshold", unit="grey levels")}),
    Op("label", lambda i, p: Labels(*steps.label(i["mask"], **p)),
       "Connected-component labelling.", inputs=("mask",), title="Object labelling",
       params={"connectivity": _int(2, "1: pixels touching by an edge belong together; "
                                    "2: also by a corner.", minimum=1, maximum=2,
                                    label="Connectivity", advanced=True)}),
    Op("remove_small_objects", _labels_op(steps.remove_small_objects),
       "Remove objects smaller than min_size pixels and renumber.", inputs=("labels",),
       skippable=True, title="Size filter",
       params={"min_size": _int(20, "Objects smaller than this area are dropped (debris, "
                                "noise).", minimum=0, maximum=100_000_000,
                                label="Smallest object kept", unit="px²")}),
    Op("watershed_split", _watershed,
       "Split touching objects (distance-transform watershed).", inputs=("labels",),
       skippable=True, title="Split touching objects",
       params={"min_distance": _int(4, "Closest two object centres may be; about one "
                                    "nucleus radius.", minimum=1, maximum=100,
                                    label="Minimum centre distance", unit="px")}),
    Op("ring", _ring, "Ring of background around each object, labelled like it.",
       inputs=("labels",), title="Cytoplasm ring",
       params={
           "width": _num(5.0, "Width of the ring drawn around each object.",
                         exclusive_minimum=0.0, maximum=1000.0, label="Ring width", unit="px"),
           "gap": _num(0.0, "Space left between the object and its ring.", minimum=0.0,
                       maximum=1000.0, label="Gap", unit="px", advanced=True),
       }),
    Op("measure_objects", _measure, "Per-object area, centroid and intensities.",
       inputs=("labels",), mapping_inputs=("intensity",), title="Measurement",
       params={"centroids": Param("boolean", True, "Also measure each object's centre.",
                                  label="Measure centroids", advanced=True)}),
    Op("aggregate", lambda i, p: steps.aggregate_field(i["table"], **p),
       "Per-field features from a per-object table.", inputs=("table",), features=True,
       title="Per-field summary",
       params={"prefix": Param("string", "", "Text put before every feature name.",
                               label="Feature name prefix", advanced=True)}),
    Op("field_qc", lambda i, p: steps.field_qc(i["image"], **p),
       "Focus score and saturated fraction of the raw image.", inputs=("image",),
       features=True, title="Image quality",
       params={
           "saturation": Param("number", None, "Pixels at or above this are saturated "
                               "(empty: the image type's maximum).", nullable=True,
                               label="Saturation level", unit="grey levels"),
           "prefix": Param("string", "qc_", "Text put before every feature name.",
                           label="Feature name prefix", advanced=True),
       }),
    Op("noop", lambda i, p: {"count": 0.0}, "Does nothing (measures platform overhead).",
       features=True, title="No operation"),
]

OPS: dict[str, Op] = {op.name: op for op in _OPS}
