"""Firing due schedules: beat's one static entry calls :func:`tick` every minute.

On PostgreSQL each due row is taken with ``SELECT … FOR UPDATE SKIP LOCKED`` and held while
its runs are submitted, so two beats (or two ticks) can never fire it twice; the row's
``next_fire_at`` moves to the first cron time *after now*, so a beat that was down for hours
fires a missed schedule once, not once per missed minute. On SQLite (the single-process
demo) a plain select is used.

Runs go through :func:`platequeue.runs.submit` (permissions and quotas apply, incremental
on); a refused submission is audited (``schedule-refused``), never dropped silently. A
schedule flagged ``on_pipeline_version_change`` also fires when the registry's hash for its
pipeline differs from the hash of its last run (a refused one is retried hourly).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from pipelines import registry
from platequeue import runs
from platequeue.errors import PlatequeueError
from platequeue.logs import log_context
from platequeue.platform import Platform
from platequeue.schedules._schedules import next_fire, run_params
from platequeue.store import Run, Schedule, ScheduleTarget, User, audit, session_scope, utcnow

log = logging.getLogger(__name__)
VERSION_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class _Due:
    id: int
    omename: str
    group_id: int | None
    target_kind: str
    target_id: int
    pipeline: str
    params: dict[str, Any]
    cron: str
    timezone: str


@dataclass
class _Outcome:
    run_ids: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _due_query(now: datetime) -> Any:
    return (select(Schedule).where(Schedule.enabled.is_(True), Schedule.next_fire_at <= now)
            .order_by(Schedule.next_fire_at, Schedule.id))


def _snapshot(s: Session, sch: Schedule) -> _Due:
    omename = s.scalar(select(User.omename).where(User.id == sch.user_id)) or ""
    return _Due(id=sch.id, omename=omename, group_id=sch.group_id,
                target_kind=sch.target_kind, target_id=sch.target_id,
                pipeline=sch.pipeline_name, params=run_params(sch.params, sch.channels),
                cron=sch.cron, timezone=sch.timezone)


def _plates(platform: Platform, due: _Due) -> list[int]:
    """The plates one firing covers (group scope and "new since last" applied)."""
    if due.target_kind == ScheduleTarget.PLATE.value:
        return [due.target_id]
    sql = ("SELECT p.id, p.group_id FROM plate p JOIN screenplatelink l ON l.child = p.id "
           "WHERE l.parent = :sid ORDER BY p.id")
    with platform.omero.connect() as conn:
        rows = conn.execute(text(sql), {"sid": due.target_id}).all()
    plates = [int(pid) for pid, gid in rows if due.group_id is None or gid == due.group_id]
    if due.target_kind == ScheduleTarget.SCREEN_NEW_SINCE_LAST.value:
        with session_scope(platform.audit) as s:
            done = set(s.scalars(select(Run.plate_id).where(Run.schedule_id == due.id)))
        plates = [p for p in plates if p not in done]
    return plates


def _submit_all(platform: Platform, due: _Due, started: datetime) -> _Outcome:
    out = _Outcome()
    for plate_id in _plates(platform, due):
        try:
            view = runs.submit(platform, omename=due.omename, plate_id=plate_id,
                               pipeline=due.pipeline, params=due.params,
                               actor=f"schedule:{due.id}", incremental=True,
                               schedule_id=due.id)
            out.run_ids.append(view.run_id)
        except PlatequeueError as exc:
            out.refused.append(f"plate {plate_id}: {exc}")
        except Exception as exc:  # infrastructure failure: was the run written?
            with session_scope(platform.audit) as s:
                written = s.scalar(select(Run.id).where(
                    Run.schedule_id == due.id, Run.plate_id == plate_id,
                    Run.created_at >= started).order_by(Run.id.desc()).limit(1))
            if written is not None:  # committed, only the dispatch failed: the sweeper resends
                out.run_ids.append(int(written))
            else:
                log.exception("schedule %d: plate %d could not be submitted", due.id, plate_id)
                out.errors.append(f"plate {plate_id}: {type(exc).__name__}: {exc}")
    return out


def _record(s: Session, sch: Schedule, out: _Outcome, now: datetime, reason: str) -> bool:
    """Advance the schedule and audit the firing; False when it must be tried again."""
    retry = bool(out.errors) and not out.run_ids and not out.refused
    if reason == "cron" and not retry:
        sch.next_fire_at = next_fire(sch.cron, sch.timezone, now)
    if not retry:
        sch.last_fired_at = now
    if out.run_ids:
        sch.last_run_id = out.run_ids[-1]
    actor = f"schedule:{sch.id}"
    for run_id in out.run_ids:
        audit(s, actor, "schedule-fire", run_id, schedule_id=sch.id, reason=reason)
    if not out.run_ids:
        audit(s, actor, "schedule-fire", None, schedule_id=sch.id, reason=reason, runs=[])
    for why in out.refused:
        audit(s, actor, "schedule-refused", None, schedule_id=sch.id, reason=reason,
                   error=why)
    for why in out.errors:
        audit(s, actor, "schedule-error", None, schedule_id=sch.id, reason=reason,
                   error=why, retry=retry)
    return not retry


def _still_changed(s: Session, sch: Schedule) -> bool:
    """Under the row lock: the last run's hash still differs (no other beat fired it)."""
    last_hash = s.scalar(select(Run.pipeline_hash).where(Run.id == sch.last_run_id))
    try:
        return last_hash is not None and registry.get(sch.pipeline_name).hash != last_hash
    except ValueError:
        return False


def _fire_locked(platform: Platform, query: Any, now: datetime, reason: str) -> int | None:
    """Take one row from ``query``, fire it and record it; returns its id, None if none."""
    engine = platform.audit
    if engine.dialect.name == "postgresql":
        with session_scope(engine) as s:
            sch = s.scalars(query.limit(1).with_for_update(skip_locked=True)).first()
            if sch is None or (reason != "cron" and not _still_changed(s, sch)):
                return None
            due = _snapshot(s, sch)
            with log_context(user=due.omename):
                out = _submit_all(platform, due, now)
                _record(s, sch, out, now, reason)
            _log(due, out, reason)
            return due.id
    with session_scope(engine) as s:  # SQLite: one process; no lock held across the submit
        sch = s.scalars(query.limit(1)).first()
        if sch is None or (reason != "cron" and not _still_changed(s, sch)):
            return None
        due = _snapshot(s, sch)
    out = _submit_all(platform, due, now)
    with session_scope(engine) as s:
        sch = s.get(Schedule, due.id)
        if sch is not None:
            _record(s, sch, out, now, reason)
    _log(due, out, reason)
    return due.id


def _log(due: _Due, out: _Outcome, reason: str) -> None:
    log.info("schedule %d fired (%s): runs %s, %d refused, %d errors", due.id, reason,
             out.run_ids, len(out.refused), len(out.errors))


def _version_changed(platform: Platform, now: datetime) -> list[int]:
    """Flagged schedules whose pipeline's hash differs from their last run's."""
    with session_scope(platform.audit) as s:
        rows = s.execute(
            select(Schedule.id, Schedule.pipeline_name, Run.pipeline_hash)
            .join(Run, Run.id == Schedule.last_run_id)
            .where(Schedule.enabled.is_(True), Schedule.on_pipeline_version_change.is_(True),
                   (Schedule.last_fired_at.is_(None))
                   | (Schedule.last_fired_at <= now - VERSION_RETRY)
                   | (Schedule.last_fired_at <= Run.created_at))).all()
    out: list[int] = []
    for sid, name, last_hash in rows:
        try:
            current = registry.get(name).hash
        except ValueError:
            continue
        if current != last_hash:
            out.append(int(sid))
    return out


def tick(platform: Platform, now: datetime | None = None) -> dict[str, int]:
    """Fire every due schedule once; returns how many fired (cron, version change)."""
    now = now or utcnow()
    report = {"cron": 0, "version": 0}
    attempted: set[int] = set()
    while True:
        query = _due_query(now)
        if attempted:
            query = query.where(Schedule.id.not_in(attempted))
        sid = _fire_locked(platform, query, now, "cron")
        if sid is None:
            break
        attempted.add(sid)
        report["cron"] += 1
    for sid in _version_changed(platform, now):
        if sid in attempted:
            continue
        query = select(Schedule).where(Schedule.id == sid,
                                       Schedule.on_pipeline_version_change.is_(True))
        if _fire_locked(platform, query, now, "pipeline-version-change") is not None:
            report["version"] += 1
    return report
