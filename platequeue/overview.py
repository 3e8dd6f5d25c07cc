"""What operators see: queue depths, workers online, active work per user, the audit log."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import func, select

from platequeue.db import session_scope
from platequeue.dispatch import in_flight, undispatched
from platequeue.models import AuditEvent, Run, RunStatus, User, WellStatus, WellTask
from platequeue.platform import Platform
from platequeue.workers_registry import alive

log = logging.getLogger(__name__)

QUEUES = ("gpu", "cpu", "maint")
_PRIORITY_SEP = "\x06\x16"
"""kombu's Redis transport keeps priority steps 3, 6, 9 in lists ``<queue>\\x06\\x16<n>``."""


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


def broker_depths(client: redis.Redis) -> dict[str, int]:
    """Messages waiting per queue (Redis list lengths, priority lists included)."""
    pipe = client.pipeline(transaction=False)
    for q in QUEUES:
        pipe.llen(q)
        for step in (3, 6, 9):
            pipe.llen(f"{q}{_PRIORITY_SEP}{step}")
    lengths = pipe.execute()
    return {q: int(sum(lengths[i * 4:(i + 1) * 4])) for i, q in enumerate(QUEUES)}


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
        held = per_queue(undispatched(), Run.status.in_(("queued", "running")))
        running = per_queue(WellTask.status == WellStatus.RUNNING.value)
        active = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
        runs_by_user = dict(s.execute(
            select(User.omename, func.count()).join(Run, Run.user_id == User.id)
            .where(Run.status.in_(active)).group_by(User.omename)).all())
        pending_by_user = dict(s.execute(
            select(User.omename, func.count()).select_from(WellTask)
            .join(User, User.id == WellTask.user_id)
            .where(WellTask.status.in_(("queued", "retry", "running")))
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
