"""The wells of one run as the run page, the API and the results page list them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from platequeue.platform import Platform
from platequeue.store import WellTask, session_scope


@dataclass(frozen=True)
class WellState:
    """One well of a run. ``error`` is the stored text, unfiltered: callers show it through
    :func:`platequeue.accounts.policy.shown_error`."""

    well: str
    row: int
    column: int
    status: str
    attempts: int
    error: str | None
    device: str | None
    worker: str | None


def well_states(platform: Platform, run_id: int) -> list[WellState]:
    """Every well of run *run_id*, in plate order (row, then column); empty for an unknown
    run. Access is the caller's to check."""
    with session_scope(platform.audit) as s:
        rows = s.execute(select(WellTask.label, WellTask.row, WellTask.column, WellTask.status,
                                WellTask.attempts, WellTask.error, WellTask.device,
                                WellTask.worker)
                         .where(WellTask.run_id == run_id)
                         .order_by(WellTask.row, WellTask.column)).all()
    return [WellState(r.label, r.row, r.column, r.status, r.attempts, r.error, r.device,
                      r.worker) for r in rows]
