"""The submit form's model: parameters grouped by step with human labels, units and help;
channel roles with the channel each will pick; the well picker's grid.

Everything here is computed from the pipeline's declarations and the OMERO catalog; the
page module (:mod:`web.pages_submit`) only routes and renders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from pipelines.engine import Pipeline
from pipelines.errors import PipelineError
from platequeue.omero import PlateInfo, WellRef, well_label

PREFIX = "p:"


@dataclass
class ParamField:
    key: str
    type: str
    default: Any
    value: str  # as shown in the form
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    choices: list[str] | None = None
    nullable: bool = False
    label: str = ""
    unit: str = ""
    advanced: bool = False
    error: str | None = None
    picks: list[str] = field(default_factory=list)  # channel roles: what each plate uses

    @property
    def is_channel(self) -> bool:
        return self.key.startswith("channels.")

    @property
    def bounds(self) -> str:
        parts = [f"{sign} {_num(v)}" for sign, v in (("≥", self.minimum),
                                                  (">", self.exclusive_minimum),
                                                  ("≤", self.maximum)) if v is not None]
        return ", ".join(parts)

    @property
    def step(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def dom_id(self) -> str:
        return "f-" + self.key.replace(".", "-")

    @property
    def shown_default(self) -> str:
        return "none" if self.default is None else shown(self.default)


@dataclass
class StepGroup:
    step: str
    title: str
    fields: list[ParamField]
    off: bool = False  # the step is switched off (its "Run this step" is unticked)

    @property
    def basic(self) -> list[ParamField]:
        return [f for f in self.fields if not f.advanced]

    @property
    def advanced(self) -> list[ParamField]:
        return [f for f in self.fields if f.advanced]


def _num(v: float) -> str:
    """1e8 as "100,000,000", 0.5 as "0.5"."""
    return f"{int(v):,}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def param_fields(pipe: Pipeline, form: MultiDict[str, str] | None) -> list[ParamField]:
    out = []
    for key, d in pipe.parameters().items():
        sent = form.getlist(PREFIX + key) if form is not None else []
        out.append(ParamField(
            key=key, type=d["type"], default=d["default"],
            value=sent[-1] if sent else shown(d["default"]), description=d["description"],
            minimum=d.get("minimum"), maximum=d.get("maximum"),
            exclusive_minimum=d.get("exclusiveMinimum"), choices=d.get("enum"),
            nullable=bool(d.get("nullable")), label=d.get("label", ""),
            unit=d.get("unit", ""), advanced=bool(d.get("advanced"))))
    return out


def groups(pipe: Pipeline, fields: Iterable[ParamField]) -> list[StepGroup]:
    """Non-channel parameters by step, in the pipeline's step order.

    A step's on/off switch (``<step>.enabled``) counts as advanced: most runs keep the
    pipeline's own choice."""
    titles = pipe.step_titles()
    by_step: dict[str, list[ParamField]] = {s: [] for s in titles}
    for f in fields:
        if f.is_channel:
            continue
        if f.name == "enabled":
            f.advanced = True
        by_step.setdefault(f.step, []).append(f)
    return [StepGroup(s, titles.get(s, s), fs,
                      any(f.name == "enabled" and f.value == "false" for f in fs))
            for s, fs in by_step.items() if fs]


def channel_picks(pipe: Pipeline, f: ParamField, plates: Sequence[PlateInfo]) -> list[str]:
    """What role *f* will read on each plate ("DAPI (channel 1) on Plate 1"), or why not."""
    picks = []
    for p in plates:
        try:
            idx = pipe.channel_index(f.name, p.channels, f.value)
        except PipelineError as exc:
            picks.append(f"no channel on {p.name}: {exc.detail}")
            continue
        picks.append(f"{p.channels[idx]} (channel {idx + 1} of {len(p.channels)}) "
                     f"on {p.name}")
    return picks


def check_channel(pipe: Pipeline, f: ParamField, plates: Sequence[PlateInfo]) -> str | None:
    """Why the role's channel (chosen, or the spec's mapping) is missing on a plate, if it is."""
    for p in plates:
        try:
            pipe.channel_index(f.name, p.channels, f.value)
        except PipelineError as exc:
            return f"plate {p.name!r}: {exc.detail}"
    return None


def validate(pipe: Pipeline, fields: list[ParamField],
             plates: list[PlateInfo]) -> dict[str, object]:
    """Coerced parameter values; sets ``error`` on each bad field (bounds included)."""
    values: dict[str, object] = {}
    for f in fields:
        try:
            values.update({f.key: pipe.resolve_params({f.key: f.value})[f.key]})
        except ValueError as exc:
            f.error = str(exc).rsplit(": ", 1)[-1]
            continue
        if f.is_channel:
            f.error = check_channel(pipe, f, plates)
    return values


@dataclass
class WellCell:
    row: int
    column: int
    label: str
    present: bool
    checked: bool


@dataclass
class WellPicker:
    """The grid of the chosen plates' wells (their union), with the user's choice."""

    rows: list[list[WellCell]]
    letters: list[str]
    present: int

    @property
    def columns(self) -> int:
        return len(self.rows[0]) if self.rows else 0


def well_picker(plates: Sequence[PlateInfo], wells: dict[int, list[WellRef]],
                chosen: set[str]) -> WellPicker | None:
    if not plates:
        return None
    every = [w for ws in wells.values() for w in ws]
    labels = {(w.row, w.column): w.label for w in every}
    present = {(w.row, w.column) for w in every if w.fields}
    nrows = max([p.rows for p in plates] + [w.row + 1 for w in every])
    ncols = max([p.columns for p in plates] + [w.column + 1 for w in every])

    def cell(r: int, c: int) -> WellCell:
        label = labels.get((r, c)) or well_label(r, c)
        return WellCell(r, c, label, (r, c) in present, label.upper() in chosen)

    rows = [[cell(r, c) for c in range(ncols)] for r in range(nrows)]
    letters = [well_label(r, 0)[:-1] for r in range(nrows)]
    return WellPicker(rows, letters, len(present))
