"""The operators' audit search: events by user, run, action and date, and the user names
that appear as actors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import func, or_, select

from platequeue.ops import _overview as overview
from platequeue.ops._flow import aware
from platequeue.platform import Platform
from platequeue.store import AuditEvent, session_scope


@dataclass(frozen=True)
class AuditFilter:
    """Which audit events to show; empty fields match everything."""

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
