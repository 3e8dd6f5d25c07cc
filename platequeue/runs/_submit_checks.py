"""What a submission (and a rerun) must pass before anything is written, beyond the
plate's read rule (``platequeue.accounts.policy``) and the quotas
(``platequeue.accounts.quotas``).

* The plate's geometry is bounded (``MAX_ROWS`` x ``MAX_COLUMNS``, the largest plates made
  are 1536 wells, 32 x 48), so a corrupt or hostile OMERO row cannot make the platform
  lay out millions of wells; the plate page shows a notice instead of laying it out
  (:func:`geometry_problem`).
* Every channel role of the pipeline resolves on the plate's channels: a name the plate
  has, or an index below its channel count (else every well would fail later).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipelines.engine import Pipeline
from pipelines.errors import PipelineParamError
from platequeue.errors import Invalid
from platequeue.omero import PlateInfo, WellRef

MAX_ROWS = 48
MAX_COLUMNS = 72


def geometry_problem(plate: PlateInfo, wells: Sequence[WellRef]) -> str | None:
    """Why the plate's declared or occupied geometry is out of bounds, or None if it is not
    (the plate page lays out only plates that pass)."""
    rows = max([plate.rows, *[w.row + 1 for w in wells]])
    columns = max([plate.columns, *[w.column + 1 for w in wells]])
    if not (0 < rows <= MAX_ROWS and 0 < columns <= MAX_COLUMNS) or \
            any(w.row < 0 or w.column < 0 for w in wells):
        return (f"plate {plate.id} has an unsupported geometry ({rows} x {columns} "
                f"wells; at most {MAX_ROWS} x {MAX_COLUMNS})")
    return None


def check_geometry(plate: PlateInfo, wells: Sequence[WellRef]) -> None:
    """Refuse (422) a plate whose declared or occupied geometry is out of bounds."""
    problem = geometry_problem(plate, wells)
    if problem is not None:
        raise Invalid(problem)


def check_channels(pipe: Pipeline, params: Mapping[str, object], plate: PlateInfo) -> None:
    """Every channel role of *pipe* resolves on *plate* with the resolved *params*."""
    for role in pipe.spec["channels"]:
        try:
            pipe.channel_index(role, plate.channels, params.get(f"channels.{role}"))
        except PipelineParamError as exc:
            raise Invalid(f"plate {plate.id}: {exc.detail}") from exc


def check_param_types(params: Mapping[str, object]) -> None:
    """Parameter values are JSON scalars (the pipeline coerces and bounds them)."""
    for key, value in params.items():
        if not isinstance(key, str) or (value is not None and
                                        not isinstance(value, str | int | float | bool)):
            raise Invalid(f"parameter {key!r} must be a string, number, boolean or null, "
                          f"not {type(value).__name__}")
