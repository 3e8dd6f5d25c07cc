"""Run service: submit, cancel, rerun failed wells, status and results.

Every entry point checks OMERO's read rules for the plate before anything is written, and
nothing is queued unless every check passed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from pipelines import registry
from platequeue.accounts import ensure_user, pipeline_admin, policy, quotas
from platequeue.errors import Conflict, Invalid, NotFound
from platequeue.logs import log_context
from platequeue.omero import WellRef
from platequeue.platform import Platform
from platequeue.queue import Queue, gpu_workers_up
from platequeue.runs import _custom_steps as custom_steps
from platequeue.runs import _incremental as incremental_runs
from platequeue.runs import _submit_checks as submit_checks
from platequeue.runs._dispatch import dispatch
from platequeue.states import PENDING_WELL
from platequeue.store import (
    TERMINAL_RUN,
    Measurement,
    Run,
    RunStatus,
    User,
    WellStatus,
    WellTask,
    audit,
    session_scope,
    utcnow,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunView:
    run_id: int
    status: str
    user: str
    plate_id: int
    plate_name: str
    pipeline: str
    pipeline_version: str
    pipeline_hash: str
    params: dict[str, Any]
    queue: str
    wells_total: int
    wells_done: int
    wells_failed: int
    wells_running: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    wells_skipped: int = 0

    def to_json(self) -> dict[str, Any]:
        # shallow on purpose (every status poll pays for this): only params is a container
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["params"] = dict(self.params)
        return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def choose_queue(platform: Platform, gpu_capable: bool) -> str:
    """``gpu`` when the pipeline supports it and a GPU worker is alive, else ``cpu``."""
    gpu = gpu_capable and gpu_workers_up(platform.redis)
    return Queue.GPU.value if gpu else Queue.CPU.value


def submit(platform: Platform, *, omename: str, plate_id: int, pipeline: str,
           params: Mapping[str, object] | None = None, actor: str | None = None,
           incremental: bool = False, schedule_id: int | None = None,
           custom_step: int | None = None,
           well_labels: Sequence[str] | None = None) -> RunView:
    """Validate everything, write the run and its well rows, commit, then dispatch.

    ``incremental``: wells whose inputs are unchanged since a successful run are skipped
    and their measurements copied (:mod:`platequeue.runs.incremental`).
    ``custom_step``: a developer's own step artifact, run on every field after the
    pipeline (:mod:`platequeue.runs.custom_steps`); the run goes to the ``custom`` queue.
    ``well_labels``: labels ("A1", "B12") of the wells to analyse; ``None`` for all of them.
    """
    user = ensure_user(platform, omename)
    plate = policy.readable_plate(platform, user.omero_user_id, plate_id)  # 404 either way
    submit_checks.check_param_types(dict(params or {}))
    try:
        pipe = registry.get(pipeline)
        resolved = pipe.resolve_params(dict(params or {}))
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    pipeline_admin.check_enabled(platform, pipe.name)
    wells = choose_wells(platform.catalog.wells(plate_id), well_labels)
    if not wells:
        raise Invalid(f"plate {plate_id} has no wells with images")
    submit_checks.check_geometry(plate, wells)
    submit_checks.check_channels(pipe, resolved, plate)
    step_name = None
    if custom_step is not None:
        step_name = custom_steps.check_usable(platform, user, custom_step)
        if incremental:
            raise Invalid("incremental runs cannot take a custom step")
    queue = (Queue.CUSTOM.value if custom_step is not None
             else choose_queue(platform, pipe.gpu))
    run_id = None
    with session_scope(platform.audit) as s:
        refusal = quotas.hold_active_slot(s, platform, user)  # locks the user until commit
        if refusal is None:
            run = Run(user_id=user.id, plate_id=plate_id, plate_name=plate.name,
                      pipeline_name=pipe.name, pipeline_version=pipe.version,
                      pipeline_hash=pipe.hash, params=dict(resolved),
                      channels=list(plate.channels), queue=queue,
                      wells_total=len(wells), schedule_id=schedule_id,
                      custom_step_id=custom_step)
            s.add(run)
            s.flush()
            s.add_all(WellTask(run_id=run.id, user_id=user.id, well_id=w.id, row=w.row,
                               column=w.column, label=w.label) for w in wells)
            s.flush()
            skipped = incremental_runs.apply(s, platform, run, wells) if incremental else 0
            audit(s, actor or omename, "submit", run.id, plate_id=plate_id,
                  pipeline=pipe.name, version=pipe.version, hash=pipe.hash,
                  params=dict(resolved), queue=queue, wells=len(wells), skipped=skipped,
                  schedule_id=schedule_id,
                  **({"custom_step": custom_step, "custom_step_name": step_name}
                     if custom_step is not None else {}))
            run_id = run.id
    if refusal is not None or run_id is None:
        assert refusal is not None
        raise quotas.refuse(platform, user, actor or omename, refusal)
    incremental_runs.after_submit(platform, run_id, skipped, len(wells))
    dispatch(platform)
    with log_context(run_id=run_id, user=omename):
        log.info("run %d submitted: plate %d, %d wells (%d skipped), %s", run_id, plate_id,
                 len(wells), skipped, queue)
    return status(platform, run_id)


MAX_WELL_CHOICES = 100_000


def choose_wells(present: list[WellRef], labels: Sequence[str] | None) -> list[WellRef]:
    """The wells named by *labels* (case-insensitive, in plate order); all when ``None``.

    Raises ``Invalid`` for an empty choice, a label that is not a string, or a well the
    plate does not have (naming them)."""
    if labels is None:
        return present
    if isinstance(labels, str) or not all(isinstance(x, str) for x in labels):
        raise Invalid("wells must be a list of well labels such as \"A1\"")
    if not labels or len(labels) > MAX_WELL_CHOICES:
        raise Invalid("choose at least one well (or leave wells out for all of them)")
    wanted = {x.strip().upper() for x in labels}
    by_label = {w.label.upper(): w for w in present}
    missing = sorted(wanted - set(by_label))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10])
        raise Invalid(f"the plate has no well(s) {shown}{' …' if len(missing) > 10 else ''}")
    return [w for w in present if w.label.upper() in wanted]


def attach_omero_session(platform: Platform, run_id: int, key: str, *,
                         opened_by_platform: bool = False) -> None:
    """Let a run carry an OMERO session key: kept in Redis only (never in the audit store),
    kept alive by beat while the run is active (:mod:`platequeue.ops.maintenance`)."""
    from platequeue.omero import keepalive

    with session_scope(platform.audit) as s:
        _load_run(s, run_id)
    keepalive.attach(platform.redis, run_id, key, ttl=platform.settings.visibility_timeout,
                     opened_by_platform=opened_by_platform)


def load_run(s: Session, run_id: int) -> Run:
    """The run row, or :class:`NotFound`."""
    return _load_run(s, run_id)


def _load_run(s: Session, run_id: int) -> Run:
    run = s.get(Run, run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id}")
    return run


def _view(run: Run, n_running: int) -> RunView:
    return RunView(
        run_id=run.id, status=run.status, user=run.user.omename, plate_id=run.plate_id,
        plate_name=run.plate_name, pipeline=run.pipeline_name,
        pipeline_version=run.pipeline_version, pipeline_hash=run.pipeline_hash,
        params=dict(run.params), queue=run.queue, wells_total=run.wells_total,
        wells_done=run.wells_done, wells_failed=run.wells_failed,
        wells_running=n_running, created_at=run.created_at.isoformat(),
        started_at=_iso(run.started_at), finished_at=_iso(run.finished_at),
        wells_skipped=run.wells_skipped or 0)


def _running_counts(s: Session, run_ids: list[int]) -> dict[int, int]:
    """Wells running now, per run, in one query."""
    if not run_ids:
        return {}
    rows = s.execute(select(WellTask.run_id, func.count())
                     .where(WellTask.run_id.in_(run_ids),
                            WellTask.status == WellStatus.RUNNING.value)
                     .group_by(WellTask.run_id)).all()
    return {int(run_id): int(n) for run_id, n in rows}


def status(platform: Platform, run_id: int) -> RunView:
    """The run's view in one statement (its columns, its owner, its running wells), read
    as plain rows: this is what every status poll costs."""
    running = (select(func.count()).select_from(WellTask)
               .where(WellTask.run_id == Run.id, WellTask.status == WellStatus.RUNNING.value)
               .scalar_subquery())
    q = (select(Run.id, Run.status, User.omename, Run.plate_id, Run.plate_name,
                Run.pipeline_name, Run.pipeline_version, Run.pipeline_hash, Run.params,
                Run.queue, Run.wells_total, Run.wells_done, Run.wells_failed,
                running.label("running"), Run.created_at, Run.started_at, Run.finished_at,
                Run.wells_skipped)
         .join(User, User.id == Run.user_id).where(Run.id == run_id))
    with platform.audit.connect() as conn:
        row = conn.execute(q).one_or_none()
    if row is None:
        raise NotFound(f"no run with id {run_id}")
    return RunView(
        run_id=row.id, status=row.status, user=row.omename, plate_id=row.plate_id,
        plate_name=row.plate_name, pipeline=row.pipeline_name,
        pipeline_version=row.pipeline_version, pipeline_hash=row.pipeline_hash,
        params=dict(row.params or {}), queue=row.queue, wells_total=row.wells_total,
        wells_done=row.wells_done, wells_failed=row.wells_failed,
        wells_running=int(row.running or 0), created_at=row.created_at.isoformat(),
        started_at=_iso(row.started_at), finished_at=_iso(row.finished_at),
        wells_skipped=row.wells_skipped or 0)


def list_runs(platform: Platform, *, omename: str | None = None, limit: int = 50) -> list[RunView]:
    """Newest first; ``omename`` None lists everyone's (operators). Three queries in all."""
    with session_scope(platform.audit) as s:
        q = select(Run).options(joinedload(Run.user)).order_by(Run.id.desc()).limit(limit)
        if omename is not None:
            q = q.join(User, User.id == Run.user_id).where(User.omename == omename)
        found = list(s.scalars(q).unique())
        running = _running_counts(s, [r.id for r in found])
        return [_view(r, running.get(r.id, 0)) for r in found]


def cancel(platform: Platform, run_id: int, *, actor: str) -> RunView:
    """Queued wells never start; running wells stop at their next check."""
    task_ids: list[str] = []
    with session_scope(platform.audit) as s:
        run = _load_run(s, run_id)
        if run.status in TERMINAL_RUN:
            raise Conflict(f"run {run_id} is already {run.status}")
        now = utcnow()
        s.execute(update(Run).where(Run.id == run_id)
                  .values(status=RunStatus.CANCELLED.value, finalized=True, finished_at=now))
        task_ids = [t for t in s.scalars(select(WellTask.task_id).where(
            WellTask.run_id == run_id, WellTask.status.in_(PENDING_WELL),
            WellTask.task_id.is_not(None))) if t]
        s.execute(update(WellTask)
                  .where(WellTask.run_id == run_id, WellTask.status.in_(PENDING_WELL))
                  .values(status=WellStatus.CANCELLED.value, finished_at=now))
        audit(s, actor, "cancel", run_id)
    if task_ids:
        platform.celery.control.revoke(task_ids)
    return status(platform, run_id)


def results(platform: Platform, run_id: int) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per well and field: identity columns then every feature (sorted by name)."""
    with session_scope(platform.audit) as s:
        run = _load_run(s, run_id)
        wells = {w.well_id: w for w in s.scalars(select(WellTask).where(
            WellTask.run_id == run_id))}
        rows: dict[tuple[int, int], dict[str, Any]] = {}
        features: set[str] = set()
        for m in s.scalars(select(Measurement).where(Measurement.run_id == run_id)):
            w = wells[m.well_id]
            row = rows.setdefault((m.well_id, m.field), {
                "plate_id": run.plate_id, "well": w.label, "row": w.row, "column": w.column,
                "field": m.field, "image_id": m.image_id})
            row[m.feature] = m.value
            features.add(m.feature)
    columns = ["plate_id", "well", "row", "column", "field", "image_id", *sorted(features)]
    ordered = [rows[k] for k in sorted(rows, key=lambda k: (wells[k[0]].row,
                                                            wells[k[0]].column, k[1]))]
    return columns, ordered


def render_results(columns: list[str], rows: list[dict[str, Any]], fmt: str) -> str:
    """Results as CSV (header = ``columns``) or a JSON list of row objects."""
    if fmt == "json":
        return json.dumps(rows, indent=2)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
