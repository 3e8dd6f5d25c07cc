"""Repair what crashes leave behind (run by beat every ``SWEEP_INTERVAL`` seconds).

* a well ``running`` on a worker whose liveness key expired (or past the hard time limit)
  goes back to ``retry`` and is dispatched again, or fails once attempts are spent;
* a well dispatched long ago that never started (its message was lost) is sent again;
* a run whose wells have all ended but whose finalisation never fired is finalised;
* queued wells left undispatched (a crash right after submit) are dispatched.
Every repair is idempotent: two sweeps at once do no harm.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import and_, select, update

from platequeue.platform import Platform
from platequeue.queue import liveness as workers_registry
from platequeue.runs._dispatch import dispatch
from platequeue.runs._finalize import finalize
from platequeue.states import ACTIVE_RUN
from platequeue.store import Run, WellStatus, WellTask, affected, session_scope, utcnow

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    orphans_requeued: int = 0
    orphans_failed: int = 0
    lost_messages: int = 0
    finalized: int = 0
    dispatched: int = 0


def sweep(platform: Platform) -> dict[str, int]:
    settings = platform.settings
    report = SweepReport()
    alive = set(workers_registry.alive(platform.redis))
    now = utcnow()
    grace = now - timedelta(seconds=2 * settings.worker_heartbeat_ttl)
    overdue = now - timedelta(seconds=settings.task_time_limit + 120)
    with session_scope(platform.audit) as s:
        running = s.execute(select(WellTask.id, WellTask.run_id, WellTask.worker,
                                   WellTask.attempts, WellTask.started_at)
                            .where(WellTask.status == WellStatus.RUNNING.value)).all()
        for wt_id, run_id, worker, attempts, started in running:
            if started is None:
                started = now
            lost = worker not in alive and started < grace
            if not (lost or started < overdue):
                continue
            fence = and_(WellTask.id == wt_id, WellTask.status == WellStatus.RUNNING,
                         WellTask.attempts == attempts)
            why = f"worker {worker} lost" if lost else "exceeded the task time limit"
            if attempts >= settings.well_max_attempts:
                n = affected(s.execute(update(WellTask).where(fence).values(
                    status=WellStatus.FAILED.value, finished_at=now,
                    error=f"{why}; gave up after {attempts} attempts")))
                if n:
                    s.execute(update(Run).where(Run.id == run_id)
                              .values(wells_failed=Run.wells_failed + 1))
                    report.orphans_failed += 1
            else:
                n = affected(s.execute(update(WellTask).where(fence).values(
                    status=WellStatus.RETRY.value, dispatched_at=None, task_id=None,
                    error=why)))
                report.orphans_requeued += n
            if n:
                log.warning("well task %d of run %d: %s", wt_id, run_id, why)
        stale = now - timedelta(seconds=settings.requeue_after_s)
        report.lost_messages = affected(s.execute(
            update(WellTask)
            .where(WellTask.status.in_((WellStatus.QUEUED.value, WellStatus.RETRY.value)),
                   WellTask.dispatched_at < stale)
            .values(dispatched_at=None, task_id=None)))
        pending_final = list(s.scalars(
            select(Run.id).where(Run.finalized.is_(False),
                                 Run.wells_done + Run.wells_failed >= Run.wells_total,
                                 Run.status.in_(ACTIVE_RUN))))
    for run_id in pending_final:
        if finalize(platform, run_id) is not None:
            report.finalized += 1
    report.dispatched = dispatch(platform)
    return asdict(report)
