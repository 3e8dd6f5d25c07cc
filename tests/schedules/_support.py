"""Helpers shared by the beat/operations tests."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from platequeue.platform import Platform
from platequeue.store import AuditEvent, Run, Schedule, session_scope, utcnow

FAR_CRON = "0 0 1 1 *"  # once a year: every firing in a test comes from time travel


def make_due(platform: Platform, schedule_id: int, ago: timedelta = timedelta(hours=3)) -> None:
    """Time travel: the schedule should have fired ``ago`` (as after an outage)."""
    with session_scope(platform.audit) as s:
        s.execute(update(Schedule).where(Schedule.id == schedule_id)
                  .values(next_fire_at=utcnow() - ago))


def runs_of(platform: Platform, schedule_id: int) -> list[Run]:
    with session_scope(platform.audit) as s:
        return list(s.scalars(select(Run).where(Run.schedule_id == schedule_id)
                              .order_by(Run.id)))


def audits(platform: Platform, action: str, schedule_id: int | None = None) -> list[AuditEvent]:
    with session_scope(platform.audit) as s:
        found = list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                               .order_by(AuditEvent.id)))
    if schedule_id is None:
        return found
    return [a for a in found if a.detail.get("schedule_id") == schedule_id]


def count_runs(platform: Platform) -> int:
    with session_scope(platform.audit) as s:
        return int(s.scalar(select(func.count()).select_from(Run)) or 0)
