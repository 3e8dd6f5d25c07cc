"""Run a validated pipeline spec on one field, on the field's own backend.

Over 300 lines because :class:`Pipeline` is one interpreter of the spec (parameters,
channel roles, steps); about a third of it is the numpydoc of its public methods.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pipelines.backend import array_namespace, is_gpu_array, to_host
from pipelines.errors import PipelineError, PipelineParamError
from pipelines.ops import LABEL_OPS, OPS, Labels
from pipelines.params import Param
from pipelines.spec import spec_hash, validate_spec

logger = logging.getLogger(__name__)

__all__ = ["Pipeline", "StepTimer"]

_CHANNEL = Param("string", "", "Channel name or 0-based index; empty: the spec's mapping.",
                 label="Channel")
_ENABLED = Param("boolean", True, "Run this step (false: pass its input through).",
                 label="Run this step")


class StepTimer(Protocol):
    """Optional per-step timing hook (e.g. CUDA events in a benchmark)."""

    def start(self, step_id: str) -> None: ...

    def stop(self, step_id: str) -> None: ...


class Pipeline:
    """A pipeline built from a spec (see ``pipelines/schema.json``).

    Attributes
    ----------
    name, version, hash : str
        ``hash`` is the SHA-256 hex digest of the spec's canonical JSON.
    spec : dict
        The spec (a copy; changing it does not change the pipeline).
    gpu : bool
        Whether the pipeline can run on CuPy arrays.
    hidden : bool
        Left out of ``registry.names()``.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self._spec = validate_spec(spec)
        self.name: str = self._spec["name"]
        self.version: str = self._spec["version"]
        self.hash: str = spec_hash(self._spec)
        self.gpu: bool = bool(self._spec.get("gpu", True))
        self.hidden: bool = bool(self._spec.get("hidden", False))
        self.description: str = self._spec.get("description", "")
        self._declared = self._declare()

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, version={self.version!r}, hash={self.hash[:12]!r})"

    @property
    def spec(self) -> dict[str, Any]:
        return copy.deepcopy(self._spec)

    def _declare(self) -> dict[str, tuple[Param, Any]]:
        out: dict[str, tuple[Param, Any]] = {}
        for role in self._spec["channels"]:
            out[f"channels.{role}"] = (_CHANNEL, "")
        for step in self._spec["steps"]:
            op = OPS[step["op"]]
            given = step.get("params", {})
            for name, param in op.params.items():
                value = param.coerce(given[name]) if name in given else param.default
                out[f"{step['id']}.{name}"] = (param, value)
            if "enabled" in step:
                out[f"{step['id']}.enabled"] = (_ENABLED, bool(step["enabled"]))
        return out

    def parameters(self) -> dict[str, dict[str, Any]]:
        """Declared parameters ``"<step id>.<param>"`` (and ``"channels.<role>"``).

        Each maps to ``type``, ``default`` (this pipeline's value), bounds
        (``minimum``, ``exclusiveMinimum``, ``maximum``, ``enum``) and ``description``.
        """
        return {k: p.describe(v, use_default=True) for k, (p, v) in self._declared.items()}

    def step_titles(self) -> dict[str, str]:
        """Each step id's human title (its op's ``title``, else the id), in spec order."""
        return {s["id"]: OPS[s["op"]].title or s["id"].replace("_", " ").capitalize()
                for s in self._spec["steps"]}

    def resolve_params(self, overrides: Mapping[str, object] | None = None) -> dict[str, object]:
        """All parameter values with ``overrides`` applied and coerced.

        Keys are ``"<step id>.<param>"``; a bare ``<param>`` is accepted when exactly one
        step declares it. Strings (``k=v`` from a CLI) are parsed to the declared type.

        Raises
        ------
        PipelineParamError
            For an unknown or ambiguous name, or a bad value (naming both).
        """
        values: dict[str, object] = {k: v for k, (_, v) in self._declared.items()}
        for key, raw in (overrides or {}).items():
            full = self._full_name(str(key))
            try:
                values[full] = self._declared[full][0].coerce(raw)
            except ValueError as exc:
                step, _, name = full.partition(".")
                raise PipelineParamError(
                    f"pipeline {self.name!r}: step {step!r} parameter {name!r}: bad value "
                    f"{raw!r}: {exc}"
                ) from None
        return values

    def _full_name(self, key: str) -> str:
        if key in self._declared:
            return key
        matches = [k for k in self._declared if k.split(".", 1)[1] == key]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise PipelineParamError(f"pipeline {self.name!r}: parameter {key!r} is ambiguous; "
                                     f"use one of {matches}")
        raise PipelineParamError(f"pipeline {self.name!r}: unknown parameter {key!r}; "
                                 f"known: {sorted(self._declared)}")

    def channel_index(self, role: str, channels: Sequence[str], choice: object = None, *,
                      count: int | None = None) -> int:
        """The channel that channel role *role* reads.

        Parameters
        ----------
        role : str
            A channel role of this pipeline (a key of its spec's ``channels``).
        channels : sequence of str
            The image's channel names in order (may be empty: then only indices match).
        choice : object, optional
            The ``channels.<role>`` parameter: a channel name (any case) or a 0-based index
            as text. Empty or None uses the spec's mapping: its first listed name present,
            else its default index.
        count : int, optional
            The number of channels, where *channels* is empty; ``len(channels)`` by default.

        Returns
        -------
        int
            The 0-based channel index.

        Raises
        ------
        PipelineParamError
            The choice names no channel, is out of range, or nothing in the mapping matches;
            the message names the role and the channels there are.
        """
        mapping = self._spec["channels"][role]
        n = len(channels) if count is None else count
        lower = [c.lower() for c in channels]
        listed = ", ".join(channels) or "none named"
        if isinstance(choice, str) and choice.strip():
            text = choice.strip()
            if text.isdigit():
                idx = int(text)
            elif text.lower() in lower:
                idx = lower.index(text.lower())
            else:
                raise PipelineParamError(f"pipeline {self.name!r}: channels.{role}={text!r} "
                                         f"matches no channel ({listed})")
            if idx >= n:
                raise PipelineParamError(f"pipeline {self.name!r}: channels.{role}={text!r} "
                                         f"is out of range: there are {n} channel(s) "
                                         f"({listed})")
            return idx
        names = mapping.get("names", [])
        for want in names:
            if want.lower() in lower:
                return lower.index(want.lower())
        idx = mapping.get("index")
        if idx is None or idx >= n:
            raise PipelineParamError(f"pipeline {self.name!r}: choose channels.{role}: none of "
                                     f"{names} is among the channels ({listed}) and the "
                                     f"default index {idx} is beyond {n} channel(s)")
        return int(idx)

    def run_field(
        self,
        field: Any,
        *,
        channels: Sequence[str] = (),
        params: Mapping[str, object] | None = None,
        aux: Mapping[str, Any] | None = None,
        timer: StepTimer | None = None,
    ) -> dict[str, float]:
        """Run on one field and return its features as Python floats.

        Parameters
        ----------
        field : array, shape (C, Z, Y, X)
            NumPy (any byte order, memmaps included) or CuPy; computed on its backend.
        channels : sequence of str
            Channel names in order (may be empty: roles then map by index).
        params : mapping
            Overrides or the output of :meth:`resolve_params`.
        aux : mapping of str to array, optional
            Extra slots (e.g. a ``flat`` illumination profile) on the field's backend.
        timer : StepTimer, optional
            Called around each step.
        """
        values = self.resolve_params(params)
        slots = self._slots(field, channels, values, aux)
        features: dict[str, Any] = {}
        for step in self._spec["steps"]:
            self._run_step(step, slots, features, values, timer)
        return _to_floats(features)

    def run_until(
        self,
        field: Any,
        step_id: str | None,
        *,
        channels: Sequence[str] = (),
        params: Mapping[str, object] | None = None,
    ) -> dict[str, Any]:
        """Run the image steps up to and including ``step_id``; return every slot so far.

        Steps that emit features (the final aggregation) are skipped: only slots are made
        (images, label images, per-object tables).

        Parameters
        ----------
        field : array, shape (C, Z, Y, X)
            NumPy (any byte order) or CuPy; computed on its backend.
        step_id : str or None
            The ``id`` of a step of this pipeline; None runs no step (the channel roles only).
        channels : sequence of str
            Channel names in order (may be empty: roles then map by index).
        params : mapping
            Overrides or the output of :meth:`resolve_params`.

        Returns
        -------
        dict of str to array or Labels
            Each channel role's (Z, Y, X) stack, native-endian, and the ``output`` of every
            step run, by slot name.

        Raises
        ------
        PipelineError
            ``step_id`` is not a step of this pipeline, or the field does not fit it.
        """
        steps = self._spec["steps"]
        ids = [s["id"] for s in steps]
        if step_id is not None and step_id not in ids:
            raise PipelineError(f"pipeline {self.name!r} has no step {step_id!r} "
                                f"(steps: {', '.join(ids)})")
        values = self.resolve_params(params)
        slots = self._slots(field, channels, values, None)
        unused: dict[str, Any] = {}
        for step in steps[:0 if step_id is None else ids.index(step_id) + 1]:
            if not OPS[step["op"]].features:
                self._run_step(step, slots, unused, values, None)
        return slots

    def label_step(self) -> str | None:
        """The ``id`` of the last step that makes a label image (None: it segments nothing)."""
        found = [s["id"] for s in self._spec["steps"] if s["op"] in LABEL_OPS]
        return found[-1] if found else None

    def labels(
        self,
        field: Any,
        *,
        channels: Sequence[str] = (),
        params: Mapping[str, object] | None = None,
    ) -> Any | None:
        """The pipeline's segmentation of one field: its last label image.

        Parameters
        ----------
        field : array, shape (C, Z, Y, X)
            NumPy (any byte order) or CuPy; computed on its backend.
        channels : sequence of str
            Channel names in order (may be empty: roles then map by index).
        params : mapping
            Overrides or the output of :meth:`resolve_params`.

        Returns
        -------
        array of int, shape (Y, X), or None
            The output of :meth:`label_step` (0 is background) on the field's backend;
            None when the pipeline has no labelling step.
        """
        step_id = self.label_step()
        if step_id is None:
            return None
        return self.labels_in(self.run_until(field, step_id, channels=channels, params=params))

    def labels_in(self, slots: Mapping[str, Any]) -> Any | None:
        """The label image of :meth:`label_step` among slots :meth:`run_until` returned
        (None when the pipeline has no labelling step or it has not run)."""
        step_id = self.label_step()
        step = next((s for s in self._spec["steps"] if s["id"] == step_id), None)
        out = slots.get(step["output"]) if step is not None else None
        return out.array if isinstance(out, Labels) else out

    def _slots(self, field: Any, channels: Sequence[str], values: Mapping[str, object],
               aux: Mapping[str, Any] | None) -> dict[str, Any]:
        """Each channel role's plane stack (native-endian) plus ``aux``, on one backend."""
        if getattr(field, "ndim", None) != 4:
            raise PipelineError(f"field must have shape (C, Z, Y, X), got "
                                f"shape {getattr(field, 'shape', None)}")
        n_chan = field.shape[0]
        if channels and len(channels) != n_chan:
            raise PipelineError(f"{len(channels)} channel names for {n_chan} channels")
        xp = array_namespace(field, *(aux or {}).values())
        slots: dict[str, Any] = dict(aux or {})
        for role in self._spec["channels"]:
            idx = self.channel_index(role, channels, values[f"channels.{role}"], count=n_chan)
            plane = field[idx]
            if not plane.dtype.isnative:
                plane = plane.astype(plane.dtype.newbyteorder("="))
            slots[role] = xp.asarray(plane)
        return slots

    def _run_step(self, step: Mapping[str, Any], slots: dict[str, Any],
                  features: dict[str, Any], values: Mapping[str, object],
                  timer: StepTimer | None) -> None:
        op = OPS[step["op"]]
        sid = step["id"]
        inputs = step.get("inputs", {})
        if not values.get(f"{sid}.enabled", True):
            slots[step["output"]] = slots[inputs[op.inputs[0]]]
            return
        args = {
            role: ({t: slots[s] for t, s in ref.items()} if isinstance(ref, dict) else slots[ref])
            for role, ref in inputs.items()
        }
        kwargs = {name: values[f"{sid}.{name}"] for name in op.params}
        if timer is not None:
            timer.start(sid)
        try:
            out = op.run(args, kwargs)
        except (ValueError, TypeError) as exc:
            raise PipelineError(f"pipeline {self.name!r} step {sid!r} ({op.name}): {exc}") from exc
        if timer is not None:
            timer.stop(sid)
        if op.features:
            clash = set(out) & set(features)
            if clash:
                raise PipelineError(f"step {sid!r} repeats feature names {sorted(clash)}")
            features.update(out)
        if "output" in step:
            slots[step["output"]] = out


def _to_floats(features: Mapping[str, Any]) -> dict[str, float]:
    """Bring all features back with one device->host copy."""
    keys = list(features)
    device = [k for k in keys if is_gpu_array(features[k])]
    out = {k: float(features[k]) for k in keys if k not in device}
    if device:
        xp = array_namespace(features[device[0]])
        stacked = xp.stack([xp.asarray(features[k], dtype=xp.float64).reshape(()) for k in device])
        host = to_host(stacked)
        out.update({k: float(v) for k, v in zip(device, host, strict=True)})
    return {k: out[k] for k in keys}
