"""Per-user quotas, checked by :func:`platequeue.runs.submit` (so CLI, API and pages share them).

* Concurrent runs: at most ``QUOTA_CONCURRENT_RUNS`` runs queued or running per user.
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

import redis
from sqlalchemy import func, select

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


def check_submit(platform: Platform, user: User, *, actor: str,
                 now: float | None = None) -> None:
    """Raise :class:`QuotaExceeded` (audited) if ``user`` may not submit a run now.

    Takes one slot of the per-minute window when it passes.
    """
    settings = platform.settings
    limit = settings.quota_concurrent_runs
    n = active_runs(platform, user.id)
    if n >= limit:
        raise _refuse(platform, user, actor, "concurrent_runs",
                      f"quota: {user.omename} already has {n} active runs (limit {limit}); "
                      f"retry in {ACTIVE_RETRY_S} s or when one of them ends",
                      ACTIVE_RETRY_S, active=n, limit=limit)
    per_minute = settings.quota_submissions_per_minute
    wait = _take_rate_slot(platform.redis, user.id, per_minute,
                           time.time() if now is None else now)
    if wait is not None:
        seconds = math.ceil(wait)
        raise _refuse(platform, user, actor, "submissions_per_minute",
                      f"quota: {user.omename} submitted {per_minute} runs in the last minute "
                      f"(limit {per_minute} per minute); retry in {seconds} s",
                      seconds, limit=per_minute)
