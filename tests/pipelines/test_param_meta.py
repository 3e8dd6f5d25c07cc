"""Parameter declarations carry what a form needs (label, unit, advanced) and bounds that
refuse absurd values, whatever the caller (form, API, CLI)."""

from __future__ import annotations

import pytest

from pipelines import registry
from pipelines.errors import PipelineParamError
from pipelines.params import SAFE_INT, Param


def test_every_registered_parameter_has_a_human_label() -> None:
    for name in registry.names():
        params = registry.get(name).parameters()
        for key, decl in params.items():
            assert decl.get("label"), f"{name}: {key} has no label"
    decl = registry.get("nuclei-count").parameters()
    assert decl["size_filter.min_size"]["unit"] == "px²"
    assert decl["smooth.sigma"]["unit"] == "px" and not decl["smooth.sigma"].get("advanced")
    assert decl["background.downsample"]["advanced"] is True


def test_step_titles_follow_the_spec() -> None:
    titles = registry.get("nuclei-count").step_titles()
    assert list(titles)[:3] == ["project", "background", "smooth"]
    assert titles["size_filter"] == "Size filter" and titles["smooth"] == "Smoothing"


@pytest.mark.parametrize("value", ["1" + "0" * 39, 10**40, "100000001", str(SAFE_INT + 1)])
def test_huge_min_size_is_refused(value: object) -> None:
    with pytest.raises(PipelineParamError, match="min_size"):
        registry.get("nuclei-count").resolve_params({"size_filter.min_size": value})


def test_integers_without_a_maximum_stay_json_safe() -> None:
    p = Param("integer", 0, "x")
    assert p.coerce(str(SAFE_INT)) == SAFE_INT
    with pytest.raises(ValueError, match="between"):
        p.coerce(str(SAFE_INT + 1))
    with pytest.raises(ValueError, match="finite"):
        Param("number", 0.0, "x").coerce("1e300")
