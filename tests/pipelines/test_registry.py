"""Registry, specs, parameters and the run_field interface."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import (
    PipelineError,
    PipelineParamError,
    PipelineSpecError,
    UnknownPipeline,
    registry,
)
from pipelines.spec import schema, spec_hash


def test_names_and_get() -> None:
    assert registry.names() == ["cell-painting-lite", "field-qc", "nuclei-count"]
    assert "noop" in registry.names(include_hidden=True)
    p = registry.get("nuclei-count")
    assert p.name == "nuclei-count" and p.version == "1.0.0" and p.gpu
    assert len(p.hash) == 64 and p.hash == spec_hash(p.spec)


def test_unknown_pipeline_lists_names() -> None:
    with pytest.raises(UnknownPipeline, match="nuclei-count") as info:
        registry.get("nope")
    assert isinstance(info.value, ValueError)


def test_schema_is_valid_json_schema() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema())


def test_parameters_declared() -> None:
    params = registry.get("nuclei-count").parameters()
    sigma = params["smooth.sigma"]
    assert sigma["type"] == "number" and sigma["default"] == 1.5 and sigma["minimum"] == 0
    assert params["size_filter.min_size"]["default"] == 20
    assert params["split.enabled"]["default"] is False
    assert all("description" in v for v in params.values())


def test_resolve_params_coerces_cli_strings() -> None:
    p = registry.get("nuclei-count")
    vals = p.resolve_params({"smooth.sigma": "2.5", "min_size": "30", "split.enabled": "yes"})
    assert vals["smooth.sigma"] == 2.5
    assert vals["size_filter.min_size"] == 30 and isinstance(vals["size_filter.min_size"], int)
    assert vals["split.enabled"] is True
    assert p.resolve_params(vals) == vals


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ({"smooth.sigma": "-1"}, r"'smooth'.*'sigma'.*'-1'"),
        ({"smooth.sigma": "abc"}, r"'smooth'.*'sigma'.*'abc'"),
        ({"size_filter.min_size": "2.5"}, r"'size_filter'.*'min_size'.*2.5"),
        ({"background.method": "median"}, r"'background'.*'method'.*'median'"),
        ({"smooth.nope": 1}, r"unknown parameter 'smooth.nope'"),
    ],
)
def test_resolve_params_errors(override: dict[str, object], pattern: str) -> None:
    with pytest.raises(PipelineParamError, match=pattern):
        registry.get("nuclei-count").resolve_params(override)


def test_ambiguous_bare_name() -> None:
    with pytest.raises(PipelineParamError, match="ambiguous"):
        registry.get("cell-painting-lite").resolve_params({"radius": 10})


def _spec() -> dict:
    return registry.get("nuclei-count").spec


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda s: s["steps"][2]["params"].update(sigma=-3), r"step 2 \('smooth'\).*'sigma'"),
        (lambda s: s["steps"][2]["params"].update(sgima=1), r"step 2 \('smooth'\).*'sgima'"),
        (lambda s: s["steps"][2].update(op="blur"), r"step 2 \('smooth'\).*unknown op 'blur'"),
        (lambda s: s["steps"][2]["inputs"].update(image="nothing"), r"'smooth'.*'nothing'"),
        (lambda s: s["steps"][3].update(enabled=False), r"'threshold'.*cannot be disabled"),
        (lambda s: s["steps"][1].update(id="Bad Id"), r"step 1 .*id"),
        (lambda s: s.pop("version"), r"version"),
    ],
)
def test_spec_errors_name_step_and_parameter(edit, pattern: str) -> None:
    spec = _spec()
    edit(spec)
    with pytest.raises(PipelineSpecError, match=pattern):
        registry.load_spec(spec)


def test_load_spec_hash_changes_with_content() -> None:
    spec = _spec()
    same = registry.load_spec(spec)
    assert same.hash == registry.get("nuclei-count").hash
    spec["steps"][2]["params"]["sigma"] = 2.0
    assert registry.load_spec(spec).hash != same.hash


def test_noop() -> None:
    field = np.zeros((1, 1, 8, 8), dtype=np.uint16)
    assert registry.get("noop").run_field(field, channels=["DAPI"], params={}) == {"count": 0.0}


def test_channel_mapping_by_name_and_override() -> None:
    p = registry.get("field-qc")
    field = np.zeros((2, 1, 16, 16), dtype=np.uint16)
    field[1] = 65535
    by_index = p.run_field(field, channels=["a", "b"], params={})
    assert by_index["qc_saturated_fraction"] == 0.0
    other = p.run_field(field, channels=["a", "b"], params={"channels.image": "b"})
    assert other["qc_saturated_fraction"] == 1.0
    with pytest.raises(PipelineParamError, match="matches no channel"):
        p.run_field(field, channels=["a", "b"], params={"channels.image": "c"})


def test_channel_index_resolves_names_indices_and_the_mapping() -> None:
    p = registry.get("field-qc")
    assert p.channel_index("image", ["a", "b"], "B") == 1
    assert p.channel_index("image", ["a", "b"], " 1 ") == 1
    assert p.channel_index("image", ["a", "b"]) == 0  # the spec's default index
    assert p.channel_index("image", [], "1", count=2) == 1  # unnamed channels
    with pytest.raises(PipelineParamError, match=r"out of range: there are 2 channel\(s\) \(a"):
        p.channel_index("image", ["a", "b"], "2")
    with pytest.raises(PipelineParamError, match=r"choose channels.image"):
        p.channel_index("image", [], count=0)


def test_bad_field_shape() -> None:
    with pytest.raises(PipelineError, match="shape"):
        registry.get("nuclei-count").run_field(np.zeros((8, 8)), channels=[], params={})
