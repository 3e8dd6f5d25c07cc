"""The run lifecycle, from submission to write-back.

* service (:mod:`._service`): submit, cancel, status, results; rerun of failed wells
  (:mod:`._rerun`, through the checks a submission passes, :mod:`._submit_checks`);
* dispatch (:mod:`._dispatch`): the fair-share dispatcher, the only sender of well tasks;
* the well command (:mod:`._wellwork`): claim, read, compute, count (fenced), retry;
* finalisation (:mod:`._finalize`), incremental reprocessing (:mod:`._incremental`),
  the sweeper (:mod:`._sweeper`), retention (:mod:`._retention`), write-back
  orchestration (:mod:`._writeback_job`), custom steps (:mod:`._custom_steps`),
  estimates and ETAs (:mod:`._estimate`), Parquet export (:mod:`._export`), the wells
  of a run as pages list them (:mod:`._wells`).

How a run flows through these: ``docs/architecture.md``.
"""

from __future__ import annotations

from platequeue.runs import _custom_steps as custom_steps
from platequeue.runs import _estimate as estimate
from platequeue.runs import _incremental as incremental
from platequeue.runs._dispatch import dispatch, in_flight, refill_due, undispatched
from platequeue.runs._estimate import Estimate, PlateEstimate, eta_seconds
from platequeue.runs._export import results_parquet, results_schema
from platequeue.runs._finalize import finalize
from platequeue.runs._rerun import rerun_failed
from platequeue.runs._retention import retention
from platequeue.runs._service import (
    RunView,
    attach_omero_session,
    cancel,
    choose_queue,
    list_runs,
    render_results,
    results,
    status,
    submit,
)
from platequeue.runs._submit_checks import MAX_COLUMNS, MAX_ROWS, geometry_problem
from platequeue.runs._sweeper import (
    SweepReport,
    hard_limit_error,
    release_task,
    sweep,
    sweep_if_due,
)
from platequeue.runs._wells import WellState, well_states
from platequeue.runs._wellwork import Claim, RetryLater, WellCommand
from platequeue.runs._writeback_job import write_back_run, writeback_rows

__all__ = [
    "MAX_COLUMNS",
    "MAX_ROWS",
    "Claim",
    "Estimate",
    "PlateEstimate",
    "RetryLater",
    "RunView",
    "SweepReport",
    "WellCommand",
    "WellState",
    "attach_omero_session",
    "cancel",
    "choose_queue",
    "custom_steps",
    "dispatch",
    "estimate",
    "eta_seconds",
    "finalize",
    "geometry_problem",
    "hard_limit_error",
    "in_flight",
    "incremental",
    "list_runs",
    "refill_due",
    "release_task",
    "render_results",
    "rerun_failed",
    "results",
    "results_parquet",
    "results_schema",
    "retention",
    "status",
    "submit",
    "sweep",
    "sweep_if_due",
    "undispatched",
    "well_states",
    "write_back_run",
    "writeback_rows",
]
