"""Pipeline specs: JSON Schema validation, op-level checks and the content hash."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from pipelines.errors import PipelineSpecError
from pipelines.ops import OPS

logger = logging.getLogger(__name__)

__all__ = ["canonical_json", "spec_hash", "validate_spec"]


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of a spec (``pipelines/schema.json``)."""
    text = resources.files("pipelines").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def canonical_json(spec: Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: the text the hash is taken over."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(spec: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(spec).encode("utf-8")).hexdigest()


def _where(spec: Mapping[str, Any], path: list[Any]) -> str:
    if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
        step = spec["steps"][path[1]]
        sid = step.get("id", "?") if isinstance(step, Mapping) else "?"
        rest = ".".join(str(p) for p in path[2:])
        return f"step {path[1]} ({sid!r})" + (f" {rest}" if rest else "")
    return ".".join(str(p) for p in path) or "spec"


def validate_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check a spec and return a deep copy of it.

    Raises
    ------
    PipelineSpecError
        Naming the step (index and id) and the parameter or input that is wrong.
    """
    if not isinstance(spec, Mapping):
        raise PipelineSpecError(f"spec must be a JSON object, got {type(spec).__name__}")
    out: dict[str, Any] = copy.deepcopy(dict(spec))
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(out), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        err = errors[0]
        raise PipelineSpecError(f"{_where(out, list(err.absolute_path))}: {err.message}")
    slots = set(out["channels"])
    ids: set[str] = set()
    for i, step in enumerate(out["steps"]):
        _check_step(i, step, slots, ids)
    return out


def _check_step(i: int, step: dict[str, Any], slots: set[str], ids: set[str]) -> None:
    where = f"step {i} ({step['id']!r})"
    if step["id"] in ids:
        raise PipelineSpecError(f"{where}: duplicate step id {step['id']!r}")
    ids.add(step["id"])
    op = OPS.get(step["op"])
    if op is None:
        raise PipelineSpecError(f"{where}: unknown op {step['op']!r}; known: {sorted(OPS)}")
    inputs = step.get("inputs", {})
    known = set(op.inputs) | set(op.optional_inputs) | set(op.mapping_inputs)
    for role in inputs:
        if role not in known:
            raise PipelineSpecError(f"{where}: op {op.name!r} has no input {role!r}; "
                                    f"inputs: {sorted(known)}")
    for role in op.inputs:
        if role not in inputs:
            raise PipelineSpecError(f"{where}: missing input {role!r} of op {op.name!r}")
    for role, ref in inputs.items():
        mapping = role in op.mapping_inputs
        if mapping != isinstance(ref, dict):
            kind = "an object {tag: slot}" if mapping else "a slot name"
            raise PipelineSpecError(f"{where}: input {role!r} must be {kind}")
        for name in ref.values() if isinstance(ref, dict) else [ref]:
            if name not in slots:
                raise PipelineSpecError(f"{where}: input {role!r} reads slot {name!r}, "
                                        f"which no channel or earlier step defines")
    for name, value in step.get("params", {}).items():
        if name not in op.params:
            raise PipelineSpecError(f"{where}: op {op.name!r} has no parameter {name!r}; "
                                    f"parameters: {sorted(op.params)}")
        try:
            op.params[name].coerce(value)
        except ValueError as exc:
            raise PipelineSpecError(f"{where} parameter {name!r}={value!r}: {exc}") from None
    if "enabled" in step and not op.skippable:
        raise PipelineSpecError(f"{where}: op {op.name!r} cannot be disabled")
    if "output" in step:
        slots.add(step["output"])
    elif not op.features:
        raise PipelineSpecError(f"{where}: op {op.name!r} needs an 'output' slot")
