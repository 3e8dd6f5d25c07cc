"""How work flows now, for the operators' page: wells ended per minute over the last
minutes, the longest-waiting well, and the active runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from platequeue.platform import Platform
from platequeue.store import Run, RunStatus, User, WellStatus, WellTask, session_scope, utcnow

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
