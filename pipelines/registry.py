"""Built-in pipelines by name, and pipelines from user specs.

>>> from pipelines import registry
>>> p = registry.get("nuclei-count")
>>> p.run_field(field, channels=["DAPI"], params={"smooth.sigma": "2"})  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from pipelines.engine import Pipeline
from pipelines.errors import UnknownPipeline

logger = logging.getLogger(__name__)

__all__ = ["get", "load_spec", "names"]


@lru_cache(maxsize=1)
def _builtins() -> dict[str, Pipeline]:
    out: dict[str, Pipeline] = {}
    folder = resources.files("pipelines").joinpath("specs")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            pipe = Pipeline(json.loads(entry.read_text(encoding="utf-8")))
            if pipe.name in out:
                raise RuntimeError(f"two built-in pipelines named {pipe.name!r}")
            out[pipe.name] = pipe
    return out


def names(*, include_hidden: bool = False) -> list[str]:
    """Names of the built-in pipelines, sorted (``noop`` is hidden)."""
    return sorted(n for n, p in _builtins().items() if include_hidden or not p.hidden)


def get(name: str) -> Pipeline:
    """The built-in pipeline ``name``.

    Raises
    ------
    UnknownPipeline
        Naming the known pipelines.
    """
    try:
        return _builtins()[name]
    except KeyError:
        raise UnknownPipeline(f"unknown pipeline {name!r}; known: {names()}") from None


def load_spec(spec: Mapping[str, Any] | str) -> Pipeline:
    """A pipeline from a user spec (a dict or its JSON text), validated.

    Raises
    ------
    PipelineSpecError
        Naming the wrong step and parameter.
    """
    if isinstance(spec, str):
        spec = json.loads(spec)
    return Pipeline(spec)  # type: ignore[arg-type]
