"""Beat's housekeeping, each step idempotent (two runs at once, or a rerun, do no harm).

* expired API tokens are deleted;
* web sessions (``platequeue:session:<id>``) are removed by Redis itself: each is written
  with a time-to-live (``SESSION_TTL``), renewed on use, and there is no index to prune; the
  sweep here only gives a time-to-live to a session key that has none (written by hand or
  by a bug), so none lives forever;
* OMERO sessions of runs: kept alive while the run is queued or running, left alone for one
  keep-alive interval after it ended (its write-back may still need it), then forgotten,
  and closed on the server when the platform opened it (never a user's own session);
* retention of results is the run domain's (:func:`platequeue.runs.retention`); beat
  fires both.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import redis
from sqlalchemy import delete, select

from platequeue.omero import keepalive
from platequeue.platform import Platform
from platequeue.states import ACTIVE_RUN
from platequeue.store import (
    ApiToken,
    Run,
    affected,
    session_scope,
    utcnow,
)

log = logging.getLogger(__name__)

SESSION_PREFIX = "platequeue:session:"
ACTIVE = tuple(st.value for st in ACTIVE_RUN)


def remove_expired_tokens(platform: Platform, now: datetime | None = None) -> int:
    with session_scope(platform.audit) as s:
        return affected(s.execute(delete(ApiToken)
                                  .where(ApiToken.expires_at < (now or utcnow()))))


def bound_web_sessions(platform: Platform) -> int:
    """Give a time-to-live to web session keys that have none; returns how many."""
    r = platform.redis
    fixed = 0
    for key in r.scan_iter(match=SESSION_PREFIX + "*", count=500):
        if r.ttl(key) == -1:  # -1: no expiry; -2: already gone
            r.expire(key, platform.settings.session_ttl)
            fixed += 1
    if fixed:
        log.warning("gave a time-to-live to %d web sessions that had none", fixed)
    return fixed


@dataclass
class KeepaliveReport:
    kept: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)


def omero_sessions(platform: Platform, server: keepalive.SessionServer | None = None,
                   now: datetime | None = None) -> KeepaliveReport:
    """Keep alive the sessions of active runs; release those no longer needed.

    ``server`` is the OMERO server (default: :func:`keepalive.server_for`, None without
    ``OMERO_HOST``: then only the Redis bookkeeping happens).
    """
    settings = platform.settings
    server = server if server is not None else keepalive.server_for(settings)
    now = now or utcnow()
    r = platform.redis
    report = KeepaliveReport()
    sessions = keepalive.tracked(r)
    if not sessions:
        return report
    with session_scope(platform.audit) as s:
        state = {int(rid): (status, finished) for rid, status, finished in s.execute(
            select(Run.id, Run.status, Run.finished_at)
            .where(Run.id.in_([x.run_id for x in sessions]))).all()}
    grace = now - timedelta(seconds=settings.omero_keepalive_interval)
    for sess in sessions:
        status, finished = state.get(sess.run_id, (None, None))
        if status in ACTIVE:
            alive = server.keep_alive(sess.key) if server is not None else True
            if alive:
                keepalive.renew(r, sess.run_id, settings.visibility_timeout)
                report.kept.append(sess.run_id)
            else:
                keepalive.forget(r, sess.run_id)
                report.lost.append(sess.run_id)
                log.warning("run %d: its OMERO session expired on the server", sess.run_id)
        elif finished is not None and finished > grace:
            report.waiting.append(sess.run_id)
        else:
            if sess.opened_by_platform and server is not None:
                server.close(sess.key)
                report.closed.append(sess.run_id)
            keepalive.forget(r, sess.run_id)
            report.released.append(sess.run_id)
    return report


def cleanup(platform: Platform) -> dict[str, int]:
    """Tokens and sessions, for the hourly beat entry."""
    tokens = remove_expired_tokens(platform)
    try:
        sessions = bound_web_sessions(platform)
    except (redis.RedisError, OSError) as exc:
        log.warning("session sweep skipped: %s", exc)
        sessions = 0
    return {"tokens": tokens, "sessions_bounded": sessions}


def keepalive_report(platform: Platform) -> dict[str, list[int]]:
    return asdict(omero_sessions(platform))
