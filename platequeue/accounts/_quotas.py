"""Per-user quotas, checked by :func:`platequeue.runs.submit` and
:func:`platequeue.rerun.rerun_failed` (so CLI, API, pages and schedules share them).

* Concurrent runs: at most ``QUOTA_CONCURRENT_RUNS`` runs queued or running per user.
  :func:`hold_active_slot` counts them inside the transaction that writes the run, after
  locking the user's row (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite a no-op
  ``UPDATE`` of the row, which takes the database's write lock), so two concurrent
  submissions of one user are serialised and can never both take the last slot.
* Submission rate: at most ``QUOTA_SUBMISSIONS_PER_MINUTE`` per rolling 60 s, a sliding
  window kept in one Redis sorted set per user (member = a unique id, score = time).
  Adding and counting happen in one MULTI/EXEC, so two concurrent submissions can never
  both take the last slot; a refused attempt takes its entry back out.

A refusal raises :class:`QuotaExceeded` (HTTP 429, ``retry_after`` seconds) and is written
to the audit log.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass

import redis
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from platequeue.errors import PlatequeueError
from platequeue.platform import Platform
from platequeue.store import Run, RunStatus, User, audit, session_scope

log = logging.getLogger(__name__)

WINDOW_S = 60.0
ACTIVE_RETRY_S = 30
"""Retry hint when the concurrent-run quota is full: runs end at their own pace."""
_KEY = "platequeue:quota:submit:{user_id}"


class QuotaExceeded(PlatequeueError):
    """A per-user limit refused the request; retry after ``retry_after`` seconds."""

    status = 429

    def __init__(self, message: str, *, retry_after: int, reason: str) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
        self.reason = reason


def active_runs(platform: Platform, user_id: int) -> int:
    """Runs of this user that are queued or running."""
    with session_scope(platform.audit) as s:
        return int(s.scalar(select(func.count()).select_from(Run).where(
            Run.user_id == user_id,
            Run.status.in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value)))) or 0)


def _take_rate_slot(client: redis.Redis, user_id: int, limit: int,
                    now: float) -> float | None:
    """Record one submission; ``None`` if within the limit, else seconds to wait."""
    key = _KEY.format(user_id=user_id)
    member = f"{now:.6f}:{uuid.uuid4().hex}"
    pipe = client.pipeline(transaction=True)
    pipe.zremrangebyscore(key, "-inf", now - WINDOW_S)
    pipe.zadd(key, {member: now})
    pipe.zcard(key)
    pipe.expire(key, int(WINDOW_S) + 1)
    _, _, count, _ = pipe.execute()
    if int(count) <= limit:
        return None
    client.zrem(key, member)
    oldest = client.zrange(key, 0, 0, withscores=True)
    first = float(oldest[0][1]) if oldest else now
    return max(1.0, first + WINDOW_S - now)


def _refuse(platform: Platform, user: User, actor: str, reason: str, message: str,
            retry_after: int, **detail: object) -> QuotaExceeded:
    with session_scope(platform.audit) as s:
        audit(s, actor, "quota_refused", None, user=user.omename, reason=reason,
              retry_after=retry_after, **detail)
    log.info("quota refused %s: %s", user.omename, message)
    return QuotaExceeded(message, retry_after=retry_after, reason=reason)


def lock_user(s: Session, user_id: int) -> None:
    """Serialise this user's quota checks until *s* commits or rolls back."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(User.id).where(User.id == user_id).with_for_update())
    else:  # SQLite: the first write of a transaction takes the (database-wide) write lock
        s.execute(update(User).where(User.id == user_id).values(role=User.role))


def hold_active_slot(s: Session, platform: Platform, user: User, *,
                     now: float | None = None) -> QuotaRefusal | None:
    """In the transaction *s* that will write the run: lock the user, count their active
    runs, take a slot of the per-minute window. Returns why it is refused (and takes
    nothing), or None; the caller rolls back and calls :func:`refuse` after *s* ends."""
    settings = platform.settings
    lock_user(s, user.id)
    limit = settings.quota_concurrent_runs
    n = int(s.scalar(select(func.count()).select_from(Run).where(
        Run.user_id == user.id,
        Run.status.in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value)))) or 0)
    if n >= limit:
        return QuotaRefusal("concurrent_runs",
                            f"quota: {user.omename} already has {n} active runs (limit "
                            f"{limit}); retry in {ACTIVE_RETRY_S} s or when one of them ends",
                            ACTIVE_RETRY_S, {"active": n, "limit": limit})
    per_minute = settings.quota_submissions_per_minute
    wait = _take_rate_slot(platform.redis, user.id, per_minute,
                           time.time() if now is None else now)
    if wait is not None:
        seconds = math.ceil(wait)
        return QuotaRefusal("submissions_per_minute",
                            f"quota: {user.omename} submitted {per_minute} runs in the last "
                            f"minute (limit {per_minute} per minute); retry in {seconds} s",
                            seconds, {"limit": per_minute})
    return None


@dataclass(frozen=True)
class QuotaRefusal:
    reason: str
    message: str
    retry_after: int
    detail: dict[str, object]


def refuse(platform: Platform, user: User, actor: str, refusal: QuotaRefusal) -> QuotaExceeded:
    """Audit *refusal* (in its own transaction) and return the error to raise."""
    return _refuse(platform, user, actor, refusal.reason, refusal.message,
                   refusal.retry_after, **refusal.detail)


def check_submit(platform: Platform, user: User, *, actor: str,
                 now: float | None = None) -> None:
    """Raise :class:`QuotaExceeded` (audited) if ``user`` may not submit a run now; takes
    one slot of the per-minute window when it passes. A check alone: callers that then
    write a run use :func:`hold_active_slot` in that run's transaction instead."""
    with session_scope(platform.audit) as s:
        refusal = hold_active_slot(s, platform, user, now=now)
    if refusal is not None:
        raise refuse(platform, user, actor, refusal)
