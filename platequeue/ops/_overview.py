"""What operators see: queue depths, workers online, active work per user, the audit log."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import func, select

from platequeue.platform import Platform
from platequeue.queue import QUEUES, alive, broker_depths
from platequeue.runs import in_flight, undispatched
from platequeue.states import ACTIVE_RUN, PENDING_WELL
from platequeue.store import AuditEvent, Run, RunStatus, User, WellStatus, WellTask, session_scope

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class QueueRow:
    name: str
    broker_depth: int  # messages waiting in Redis
    in_flight: int  # wells sent and not ended (waiting or running)
    waiting_dispatch: int  # wells held back by fair share
    running: int


@dataclass(frozen=True)
class WorkerRow:
    hostname: str
    queues: tuple[str, ...]
    pid: int | None
    gpu: str | None  # CUDA_VISIBLE_DEVICES of the worker ("" or None: CPU only)


@dataclass(frozen=True)
class UserLoad:
    user: str
    active_runs: int
    wells_pending: int


@dataclass(frozen=True)
class QueueOverview:
    queues: tuple[QueueRow, ...]
    workers: tuple[WorkerRow, ...]
    users: tuple[UserLoad, ...]
    broker_ok: bool


def _workers(client: redis.Redis) -> list[WorkerRow]:
    out = []
    for host, info in sorted(alive(client).items()):
        gpu = info.get("gpu")
        out.append(WorkerRow(host, tuple(info.get("queues", [])), info.get("pid"),
                             str(gpu) if gpu not in (None, "") else None))
    return out


def queue_overview(platform: Platform) -> QueueOverview:
    broker_ok = True
    try:
        depths = broker_depths(platform.redis)
        workers = _workers(platform.redis)
    except (redis.RedisError, OSError) as exc:
        log.warning("queue overview: broker unavailable: %s", exc)
        depths, workers, broker_ok = dict.fromkeys(QUEUES, 0), [], False
    with session_scope(platform.audit) as s:
        def per_queue(*where: Any) -> dict[str, int]:
            rows = s.execute(select(Run.queue, func.count()).select_from(WellTask)
                             .join(Run, Run.id == WellTask.run_id).where(*where)
                             .group_by(Run.queue)).all()
            return {str(q): int(n) for q, n in rows}

        sent = per_queue(in_flight())
        held = per_queue(undispatched(), Run.status.in_(ACTIVE_RUN))
        running = per_queue(WellTask.status == WellStatus.RUNNING.value)
        active = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
        runs_by_user = dict(s.execute(
            select(User.omename, func.count()).join(Run, Run.user_id == User.id)
            .where(Run.status.in_(active)).group_by(User.omename)).all())
        pending_by_user = dict(s.execute(
            select(User.omename, func.count()).select_from(WellTask)
            .join(User, User.id == WellTask.user_id)
            .where(WellTask.status.in_((*PENDING_WELL, WellStatus.RUNNING)))
            .group_by(User.omename)).all())
    names = list(QUEUES) + sorted((set(sent) | set(held)) - set(QUEUES))
    queues = tuple(QueueRow(q, depths.get(q, 0), sent.get(q, 0), held.get(q, 0),
                            running.get(q, 0)) for q in names)
    users = tuple(UserLoad(u, int(runs_by_user.get(u, 0)), int(pending_by_user.get(u, 0)))
                  for u in sorted(set(runs_by_user) | set(pending_by_user)))
    return QueueOverview(queues, tuple(workers), users, broker_ok)


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    run_id: int | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    rows: tuple[AuditRow, ...]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def audit_page(platform: Platform, *, page: int = 1, per_page: int = 50,
               action: str | None = None) -> AuditPage:
    """Newest first; ``page`` is 1-based and clamped to the last page."""
    if per_page < 1:
        raise ValueError(f"per_page must be positive, got {per_page}")
    with session_scope(platform.audit) as s:
        where = [AuditEvent.action == action] if action else []
        total = int(s.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0)
        last = max(1, -(-total // per_page))
        page = min(max(1, page), last)
        found = s.scalars(select(AuditEvent).where(*where)
                          .order_by(AuditEvent.id.desc())
                          .offset((page - 1) * per_page).limit(per_page)).all()
        rows = tuple(AuditRow(e.id, e.at, e.actor, e.action, e.run_id, dict(e.detail or {}))
                     for e in found)
    return AuditPage(rows, page, per_page, total)


def audit_actions(platform: Platform) -> list[str]:
    with session_scope(platform.audit) as s:
        return sorted(str(a) for a in s.scalars(select(AuditEvent.action).distinct()))
