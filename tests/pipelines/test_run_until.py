"""Pipeline.run_until / labels: the public way to see a pipeline's segmentation."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import registry
from pipelines.errors import PipelineError
from pipelines.ops import Labels
from pipelines.synthetic import make_field


def _field(seed: int = 3) -> tuple[np.ndarray, int]:
    synth = make_field((192, 256), dtype=np.uint16, seed=seed)
    return synth.image[None, None], synth.count


def test_labels_match_the_measured_count() -> None:
    pipe = registry.get("nuclei-count")
    field, truth = _field()
    labels = pipe.labels(field, channels=["DAPI"])
    assert labels is not None and labels.shape == field.shape[2:]
    objects = len(np.unique(labels[labels > 0]))
    assert objects == pipe.run_field(field, channels=["DAPI"])["count"] == truth


def test_run_until_stops_at_the_step() -> None:
    pipe = registry.get("nuclei-count")
    field, _ = _field(seed=5)
    slots = pipe.run_until(field.astype(">u2"), "threshold", channels=["DAPI"])
    assert slots["nuclei"].dtype.isnative  # byte order fixed like run_field
    assert slots["mask"].shape == field.shape[2:] and slots["mask"].dtype == bool
    assert "objects" not in slots and "table" not in slots
    everything = pipe.run_until(field, "aggregate", channels=["DAPI"])
    assert isinstance(everything["nuclei_labels"], Labels)
    assert "table" in everything  # the per-object table is a slot; only features are skipped
    assert pipe.run_until(field, None, channels=["DAPI"]).keys() == {"nuclei"}


def test_parameters_and_unknown_steps() -> None:
    pipe = registry.get("nuclei-count")
    field, _ = _field()
    assert pipe.label_step() == "split"
    unsplit = pipe.labels(field, channels=["DAPI"], params={"split.enabled": False})
    split = pipe.labels(field, channels=["DAPI"])
    assert unsplit is not None and split is not None
    assert len(np.unique(unsplit)) <= len(np.unique(split))
    with pytest.raises(PipelineError, match="no step 'nope'"):
        pipe.run_until(field, "nope")
    assert registry.get("noop").labels(field) is None
