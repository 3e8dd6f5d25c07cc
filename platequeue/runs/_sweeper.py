"""Repair what crashes leave behind, every ``SWEEP_INTERVAL`` seconds.

Every worker process runs :func:`sweep_if_due` from a thread of its own; a Redis lock lets
one of them sweep per interval, so sweeping depends on no particular worker (nor on beat)
being up: while any worker lives, wells are repaired.

* a well ``running`` whose owner no longer vouches for it — no live key under the worker's
  name, a different incarnation (boot id) under that name, or a live incarnation that no
  longer lists the well's task among those it executes (killed at the hard time limit,
  cancelled when the broker connection dropped) — goes back to ``retry`` and is dispatched
  again, or fails once ``WELL_MAX_ATTEMPTS`` attempts are spent;
* a well waiting for a message the broker does not hold (lost with a Redis restart, burned
  by a failure, never sent after a crash) gets a new one; a message a worker took but has
  not started ``REQUEUE_AFTER`` seconds after it could have (its owner died) is sent again;
  a message still waiting in a queue is never re-sent, however deep the queue;
* a run whose wells have all ended but whose finalisation never fired is finalised;
* queued wells left undispatched (a crash right after submit) are dispatched.
Every repair is fenced by the attempt number or the task id: two sweeps at once do no harm.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from platequeue.platform import Platform
from platequeue.queue import broker_state
from platequeue.queue import liveness as workers_registry
from platequeue.runs._dispatch import PENDING, dispatch
from platequeue.runs._finalize import finalize
from platequeue.settings import Settings
from platequeue.states import ACTIVE_RUN
from platequeue.store import Run, WellStatus, WellTask, affected, session_scope, utcnow

log = logging.getLogger(__name__)
LOCK_KEY = "platequeue:sweep-lock"


@dataclass
class SweepReport:
    orphans_requeued: int = 0
    orphans_failed: int = 0
    lost_messages: int = 0
    finalized: int = 0
    dispatched: int = 0


def hard_limit_error(settings: Settings) -> str:
    return f"hard time limit of {settings.task_time_limit} s (TASK_TIME_LIMIT) exceeded"


def _aware(ts: datetime | None, now: datetime) -> datetime:
    if ts is None:
        return now
    return ts.replace(tzinfo=now.tzinfo) if ts.tzinfo is None else ts


def why_lost(row: Any, owners: dict[str, workers_registry.Owner], now: datetime,
             settings: Settings) -> str | None:
    """Why a ``running`` row has no live owner, or None while one vouches for it."""
    started = _aware(row.started_at, now)
    if started > now - timedelta(seconds=settings.worker_heartbeat_ttl):
        return None  # claimed too recently for its owner's heartbeat to list it
    owner = owners.get(row.worker or "")
    if owner is None:
        return f"worker {row.worker} lost (no heartbeat)"
    if row.worker_boot is not None and owner.boot != row.worker_boot:
        return f"worker {row.worker} restarted; the incarnation running the well was lost"
    if row.worker_boot is not None and row.task_id not in owner.active:
        if now - started >= timedelta(seconds=0.9 * settings.task_time_limit):
            return hard_limit_error(settings)
        return f"worker {row.worker} no longer runs it (cancelled or its process died)"
    if started < now - timedelta(seconds=settings.task_time_limit + 120):
        return "exceeded the task time limit"
    return None


def release(s: Session, settings: Settings, row: Any, why: str, now: datetime) -> str | None:
    """Send a well whose attempt ended without its owner recording it back to ``retry``
    (``dispatched_at`` cleared, so the next dispatch sends it), or fail it once its attempts
    are spent. Fenced by the attempt number; returns ``"retry"``, ``"failed"`` or None."""
    fence = and_(WellTask.id == row.id, WellTask.status == WellStatus.RUNNING.value,
                 WellTask.attempts == row.attempts)
    if row.attempts >= settings.well_max_attempts:
        n = affected(s.execute(update(WellTask).where(fence).values(
            status=WellStatus.FAILED.value, finished_at=now,
            error=f"{why}; gave up after {row.attempts} attempts")))
        if not n:
            return None
        s.execute(update(Run).where(Run.id == row.run_id)
                  .values(wells_failed=Run.wells_failed + 1))
        outcome = "failed"
    else:
        n = affected(s.execute(update(WellTask).where(fence).values(
            status=WellStatus.RETRY.value, dispatched_at=None, task_id=None,
            error=f"{why} (attempt {row.attempts})")))
        if not n:
            return None
        outcome = "retry"
    log.warning("well task %d of run %d, attempt %d: %s -> %s", row.id, row.run_id,
                row.attempts, why, outcome)
    return outcome


def _running(s: Session, *where: Any) -> list[Any]:
    return list(s.execute(select(WellTask.id, WellTask.run_id, WellTask.worker,
                                 WellTask.worker_boot, WellTask.task_id, WellTask.attempts,
                                 WellTask.started_at)
                          .where(WellTask.status == WellStatus.RUNNING.value, *where)).all())


def release_task(platform: Platform, well_task_id: int, task_id: str, why: str) -> str | None:
    """Release one well whose task *task_id* its worker saw end unrecorded (the hard time
    limit killed it); finalises the run or dispatches the retry."""
    now = utcnow()
    with session_scope(platform.audit) as s:
        rows = _running(s, WellTask.id == well_task_id, WellTask.task_id == task_id)
        outcome = release(s, platform.settings, rows[0], why, now) if rows else None
        run_id = rows[0].run_id if rows else None
    if outcome == "failed" and run_id is not None:
        finalize(platform, run_id)
    if outcome is not None:
        dispatch(platform)
    return outcome


def _lost_messages(s: Session, platform: Platform, now: datetime) -> int:
    """Clear the dispatch stamp of waiting wells whose message the broker does not hold."""
    settings = platform.settings
    sent_before = now - timedelta(seconds=max(5.0, settings.sweep_interval))
    rows = s.execute(select(WellTask.id, WellTask.task_id)
                     .where(WellTask.status.in_(PENDING),
                            WellTask.dispatched_at < sent_before)).all()
    if not rows:
        return 0
    try:
        view = broker_state.read(platform.redis)
    except (redis.RedisError, OSError) as exc:
        log.warning("sweep: cannot read the broker (%s); lost messages not checked", exc)
        return 0
    held_before = time.time() - settings.requeue_after_s
    lost = 0
    for wt_id, task_id in rows:
        if task_id is not None and task_id in view.waiting:
            continue  # waiting its turn in a queue
        if task_id is not None and view.held.get(task_id, 0.0) > held_before:
            continue  # a worker took it recently (or its ETA is recent)
        lost += affected(s.execute(
            update(WellTask)
            .where(WellTask.id == wt_id, WellTask.status.in_(PENDING),
                   WellTask.task_id == task_id if task_id else WellTask.task_id.is_(None))
            .values(dispatched_at=None, task_id=None)))
    return lost


def sweep(platform: Platform) -> dict[str, int]:
    settings = platform.settings
    report = SweepReport()
    owners = workers_registry.owners(platform.redis)
    now = utcnow()
    with session_scope(platform.audit) as s:
        for row in _running(s):
            why = why_lost(row, owners, now, settings)
            outcome = release(s, settings, row, why, now) if why else None
            report.orphans_requeued += outcome == "retry"
            report.orphans_failed += outcome == "failed"
    with session_scope(platform.audit) as s:
        report.lost_messages = _lost_messages(s, platform, now)
        if report.lost_messages:
            log.warning("sweep: %d wells had no message on the broker; sending new ones",
                        report.lost_messages)
        pending_final = list(s.scalars(
            select(Run.id).where(Run.finalized.is_(False),
                                 Run.wells_done + Run.wells_failed >= Run.wells_total,
                                 Run.status.in_(ACTIVE_RUN))))
    for run_id in pending_final:
        if finalize(platform, run_id) is not None:
            report.finalized += 1
    report.dispatched = dispatch(platform)
    return asdict(report)


def sweep_if_due(platform: Platform, holder: str) -> dict[str, int] | None:
    """Sweep unless another process swept less than ``SWEEP_INTERVAL`` ago (Redis lock)."""
    ttl_ms = max(500, int(platform.settings.sweep_interval * 900))
    if not platform.redis.set(LOCK_KEY, holder, nx=True, px=ttl_ms):
        return None
    return sweep(platform)
