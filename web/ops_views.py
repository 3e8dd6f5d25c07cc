"""What the operator pages add to :mod:`platequeue.overview`: throughput, the oldest waiting
well, the active runs, an audit search by user, run, action and date, and whether a Flower
link would lead anywhere."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import func, or_, select

from platequeue.ops import overview
from platequeue.platform import Platform
from platequeue.store import (
    AuditEvent,
    Run,
    RunStatus,
    User,
    WellStatus,
    WellTask,
    session_scope,
    utcnow,
)

THROUGHPUT_MINUTES = 10
WAITING = (WellStatus.QUEUED.value, WellStatus.RETRY.value)


def aware(value: datetime | None) -> datetime | None:
    """A time as aware UTC (the store's columns already are; computed values may not be)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Oldest:
    run_id: int
    well: str
    user: str
    since: datetime
    seconds: float


@dataclass(frozen=True)
class ActiveRun:
    run_id: int
    user: str
    plate_name: str
    pipeline: str
    status: str
    queue: str
    total: int
    ended: int


@dataclass(frozen=True)
class Flow:
    wells_per_minute: float
    ended_recently: int
    minutes: int
    oldest: Oldest | None
    active: tuple[ActiveRun, ...]


def flow(platform: Platform, now: datetime | None = None) -> Flow:
    """Wells ended per minute over the last minutes, the longest-waiting well, active runs."""
    now = aware(now) or aware(utcnow())
    assert now is not None
    since = now - timedelta(minutes=THROUGHPUT_MINUTES)
    ended_states = (WellStatus.SUCCEEDED.value, WellStatus.FAILED.value)
    active_states = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
    with session_scope(platform.audit) as s:
        ended = int(s.scalar(select(func.count()).select_from(WellTask).where(
            WellTask.status.in_(ended_states), WellTask.finished_at >= since)) or 0)
        waited = func.coalesce(WellTask.dispatched_at, Run.created_at)
        row = s.execute(select(WellTask.run_id, WellTask.label, User.omename, waited)
                        .join(Run, Run.id == WellTask.run_id)
                        .join(User, User.id == WellTask.user_id)
                        .where(WellTask.status.in_(WAITING), Run.status.in_(active_states))
                        .order_by(waited.asc(), WellTask.id.asc()).limit(1)).first()
        runs = s.execute(select(Run, User.omename).join(User, User.id == Run.user_id)
                         .where(Run.status.in_(active_states)).order_by(Run.id.asc())
                         .limit(100)).all()
        active = tuple(ActiveRun(r.id, who, r.plate_name, r.pipeline_name, r.status, r.queue,
                                 r.wells_total, r.wells_done + r.wells_failed)
                       for r, who in runs)
    oldest = None
    if row is not None:
        when = aware(row[3])
        assert when is not None
        oldest = Oldest(int(row[0]), str(row[1]), str(row[2]), when,
                        max(0.0, (now - when).total_seconds()))
    return Flow(ended / THROUGHPUT_MINUTES, ended, THROUGHPUT_MINUTES, oldest, active)


@dataclass(frozen=True)
class AuditFilter:
    user: str = ""
    run_id: int | None = None
    action: str = ""
    since: date | None = None
    until: date | None = None

    def query(self) -> dict[str, Any]:
        """The filter as URL query arguments (empty ones left out)."""
        return {k: v for k, v in (("user", self.user), ("run", self.run_id),
                                  ("action", self.action),
                                  ("from", self.since and self.since.isoformat()),
                                  ("to", self.until and self.until.isoformat())) if v}


def parse_filter(args: Any) -> tuple[AuditFilter, list[str]]:
    """The audit filter from query arguments, and a message per argument it refused."""
    errors: list[str] = []

    def day(name: str) -> date | None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors.append(f"{name} date {raw!r} is not YYYY-MM-DD")
            return None

    run_raw = (args.get("run") or "").strip()
    run_id = None
    if run_raw:
        if run_raw.isdigit() and len(run_raw) < 10:
            run_id = int(run_raw)
        else:
            errors.append(f"run {run_raw!r} is not a run number")
    found = AuditFilter(user=(args.get("user") or "").strip()[:255], run_id=run_id,
                        action=(args.get("action") or "").strip()[:64],
                        since=day("from"), until=day("to"))
    return found, errors


def audit_search(platform: Platform, flt: AuditFilter, *, page: int = 1,
                 per_page: int = 50) -> overview.AuditPage:
    """Events matching every given filter, newest first. ``user`` matches the actor's user
    name whatever signed them in (``session:demo``, ``token:demo``, ``demo``); dates are
    whole UTC days, both ends included."""
    where: list[Any] = []
    if flt.user:
        where.append(or_(AuditEvent.actor == flt.user,
                         AuditEvent.actor.like("%:" + flt.user.replace("%", r"\%")
                                               .replace("_", r"\_"), escape="\\")))
    if flt.run_id is not None:
        where.append(AuditEvent.run_id == flt.run_id)
    if flt.action:
        where.append(AuditEvent.action == flt.action)
    def bound(d: date) -> datetime:
        return datetime.combine(d, dtime.min, tzinfo=UTC)

    if flt.since:
        where.append(AuditEvent.at >= bound(flt.since))
    if flt.until:
        where.append(AuditEvent.at < bound(flt.until + timedelta(days=1)))
    with session_scope(platform.audit) as s:
        total = int(s.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0)
        last = max(1, -(-total // per_page))
        page = min(max(1, page), last)
        found = s.scalars(select(AuditEvent).where(*where).order_by(AuditEvent.id.desc())
                          .offset((page - 1) * per_page).limit(per_page)).all()
        rows = tuple(overview.AuditRow(e.id, aware(e.at) or e.at, e.actor, e.action, e.run_id,
                              dict(e.detail or {})) for e in found)
    return overview.AuditPage(rows, page, per_page, total)


def audit_users(platform: Platform) -> list[str]:
    """User names that appear as actors (the part after ``via:``), for the filter's list."""
    with session_scope(platform.audit) as s:
        actors = s.scalars(select(AuditEvent.actor).distinct().limit(2000)).all()
    return sorted({a.rsplit(":", 1)[-1] for a in actors if a})


_probe: dict[tuple[str, int], tuple[float, bool]] = {}


def _listening(host: str, port: int, ttl: float = 15.0) -> bool:
    """Whether something accepts TCP connections there (remembered for *ttl* seconds)."""
    key = (host, port)
    hit = _probe.get(key)
    if hit is not None and time.monotonic() - hit[0] < ttl:
        return hit[1]
    try:
        with socket.create_connection(key, timeout=0.3):
            ok = True
    except OSError:
        ok = False
    _probe[key] = (time.monotonic(), ok)
    return ok


def flower_url(platform: Platform, headers: Any, host: str, scheme: str) -> str | None:
    """Where Flower is for this browser, or None when no Flower runs.

    Behind the reverse proxy (a request carrying ``X-Forwarded-For``), the proxy serves
    Flower at ``/<prefix>/``. Served directly (``platequeue up``, a development server),
    Flower is the ``platequeue flower`` process on this host: linked on its own port when
    it listens, otherwise hidden."""
    prefix = platform.settings.flower_url_prefix
    if headers.get("X-Forwarded-For") or headers.get("X-Real-IP"):
        return f"/{prefix}/"
    port = platform.settings.flower_port
    if not _listening("127.0.0.1", port):
        return None
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return f"{scheme}://{hostname}:{port}/{prefix}/"
