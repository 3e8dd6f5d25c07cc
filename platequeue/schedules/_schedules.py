"""User schedules: cron expressions in IANA time zones, validated, listed, and fired by beat.

A schedule is a row in our own table (not a beat entry): beat's one static entry calls
:func:`platequeue.schedules.tick` every minute. Times are computed on the local wall
clock of the schedule's zone and stored in UTC (:func:`next_fire`): a local time skipped by
a spring-forward jump fires right after the jump, and a local time repeated by a fall-back
fires once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from sqlalchemy import select, text

from pipelines import registry
from platequeue.accounts import ensure_user, policy
from platequeue.errors import Forbidden, Invalid, NotFound
from platequeue.platform import Platform
from platequeue.store import Role, Schedule, ScheduleTarget, User, audit, session_scope, utcnow

log = logging.getLogger(__name__)

TARGETS = tuple(t.value for t in ScheduleTarget)


@dataclass(frozen=True)
class ScheduleView:
    id: int
    name: str
    owner: str
    group_id: int | None
    cron: str
    timezone: str
    target_kind: str
    target_id: int
    pipeline: str
    params: dict[str, Any]
    channels: dict[str, Any]
    enabled: bool
    on_pipeline_version_change: bool
    next_fire_at: str
    last_fired_at: str | None
    last_run_id: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; :class:`Invalid` naming it otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"time zone {name!r} is not an IANA zone name (e.g. Europe/Berlin)")\
            from None


def validate_cron(expr: str) -> str:
    """A five-field cron expression (minute hour day month weekday), normalised."""
    expr = " ".join(expr.split())
    if len(expr.split(" ")) != 5 or not croniter.is_valid(expr):
        raise Invalid(f"cron expression {expr!r} is not valid "
                      "(five fields: minute hour day-of-month month day-of-week)")
    return expr


def next_fire(cron: str, tz: str, after: datetime) -> datetime:
    """The first firing strictly after ``after``, in UTC (DST-correct on the local clock)."""
    local_zone = zone(tz)
    after_utc = after.astimezone(UTC)
    wall = after_utc.astimezone(local_zone).replace(tzinfo=None)
    it = croniter(validate_cron(cron), wall)
    for _ in range(2000):
        try:
            candidate: datetime = it.get_next(datetime)
        except CroniterBadDateError:  # e.g. "0 0 31 2 *": no such day
            break
        for fold in (0, 1):  # a repeated local time: its first instant after ``after``
            at = candidate.replace(tzinfo=local_zone, fold=fold).astimezone(UTC)
            if at > after_utc:
                return at
    raise Invalid(f"cron expression {cron!r} never fires")


def _view(sch: Schedule) -> ScheduleView:
    nxt, last = sch.next_fire_at, sch.last_fired_at
    return ScheduleView(
        id=sch.id, name=sch.name, owner=sch.user.omename, group_id=sch.group_id,
        cron=sch.cron, timezone=sch.timezone, target_kind=sch.target_kind,
        target_id=sch.target_id, pipeline=sch.pipeline_name, params=dict(sch.params),
        channels=dict(sch.channels), enabled=sch.enabled,
        on_pipeline_version_change=sch.on_pipeline_version_change,
        next_fire_at=nxt.isoformat(), last_fired_at=last.isoformat() if last else None,
        last_run_id=sch.last_run_id)


def run_params(params: Mapping[str, Any], channels: Mapping[str, Any]) -> dict[str, Any]:
    """What a firing submits: the parameters plus ``channels.<role>`` for each channel."""
    return {**dict(params), **{f"channels.{role}": value for role, value in channels.items()}}


def _check_target(platform: Platform, user: User, kind: str, target_id: int,
                  group_id: int | None) -> None:
    if kind not in TARGETS:
        raise Invalid(f"target kind {kind!r} must be one of {', '.join(TARGETS)}")
    if kind == ScheduleTarget.PLATE.value:
        plate = policy.readable_plate(platform, user.omero_user_id, target_id)  # 404 either way
        if group_id is not None and plate.group_id != group_id:
            raise Invalid(f"plate {target_id} is not in OMERO group {group_id}")
        return
    from platequeue.omero import can_read

    with platform.omero.connect() as conn:
        found = conn.execute(text("SELECT id FROM screen WHERE id = :sid"),
                             {"sid": target_id}).first()
        if found is None or not can_read(conn, user.omero_user_id, "screen", target_id):
            raise NotFound(f"no screen with id {target_id} that you may read")


def create(platform: Platform, *, omename: str, name: str, cron: str, timezone: str = "UTC",
           target_kind: str, target_id: int, pipeline: str,
           params: Mapping[str, Any] | None = None, channels: Mapping[str, Any] | None = None,
           group_id: int | None = None, on_pipeline_version_change: bool = False,
           enabled: bool = True, actor: str | None = None) -> ScheduleView:
    """Validate everything (cron, zone, pipeline and parameters, target, rights) and store."""
    user = ensure_user(platform, omename)
    cron = validate_cron(cron)
    zone(timezone)
    name = name.strip() or f"{pipeline} on {target_kind} {target_id}"
    if len(name) > 128:
        raise Invalid("a schedule name has at most 128 characters")
    if group_id is not None and user.role != Role.ADMIN.value:
        raise Forbidden("only admins may scope a schedule to an OMERO group")
    try:
        registry.get(pipeline).resolve_params(run_params(params or {}, channels or {}))
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    _check_target(platform, user, target_kind, int(target_id), group_id)
    with session_scope(platform.audit) as s:
        sch = Schedule(user_id=user.id, group_id=group_id, name=name, cron=cron,
                       timezone=timezone, target_kind=target_kind, target_id=int(target_id),
                       pipeline_name=pipeline, params=dict(params or {}),
                       channels=dict(channels or {}), enabled=enabled,
                       on_pipeline_version_change=on_pipeline_version_change,
                       next_fire_at=next_fire(cron, timezone, utcnow()))
        s.add(sch)
        s.flush()
        sch.user = s.get_one(User, user.id)
        audit(s, actor or omename, "schedule-create", None, schedule_id=sch.id, cron=cron,
              timezone=timezone, target=f"{target_kind}:{target_id}", pipeline=pipeline)
        return _view(sch)


def _may_manage(sch: Schedule, omename: str, role: str) -> bool:
    return sch.user.omename == omename or role == Role.ADMIN.value


def list_schedules(platform: Platform, *, omename: str | None = None) -> list[ScheduleView]:
    """A user's schedules (everyone's with ``omename`` None), by id."""
    with session_scope(platform.audit) as s:
        q = select(Schedule).join(User, User.id == Schedule.user_id).order_by(Schedule.id)
        if omename is not None:
            q = q.where(User.omename == omename)
        return [_view(sch) for sch in s.scalars(q)]


MAX_ID = 2**31 - 1  # schedules.id is an integer column


def _find(s: Any, schedule_id: int) -> Schedule | None:
    """The schedule, or None — also for ids no integer column can hold (never a 500)."""
    return s.get(Schedule, schedule_id) if 1 <= schedule_id <= MAX_ID else None


def get(platform: Platform, schedule_id: int) -> ScheduleView:
    with session_scope(platform.audit) as s:
        sch = _find(s, schedule_id)
        if sch is None:
            raise NotFound(f"no schedule with id {schedule_id}")
        return _view(sch)


def _load_managed(platform: Platform, s: Any, schedule_id: int, omename: str) -> Schedule:
    sch = _find(s, schedule_id)
    role = s.scalar(select(User.role).where(User.omename == omename)) or Role.USER.value
    if sch is None or not _may_manage(sch, omename, role):
        raise NotFound(f"no schedule with id {schedule_id}")
    return sch


def delete(platform: Platform, schedule_id: int, *, omename: str,
           actor: str | None = None) -> None:
    """Remove a schedule (its owner or an admin). Its runs stay."""
    with session_scope(platform.audit) as s:
        sch = _load_managed(platform, s, schedule_id, omename)
        s.delete(sch)
        audit(s, actor or omename, "schedule-delete", None, schedule_id=schedule_id)


def set_enabled(platform: Platform, schedule_id: int, enabled: bool, *, omename: str,
                actor: str | None = None) -> ScheduleView:
    """Pause or resume; resuming fires next at the first due time from now (no catch-up)."""
    with session_scope(platform.audit) as s:
        sch = _load_managed(platform, s, schedule_id, omename)
        sch.enabled = enabled
        if enabled:
            sch.next_fire_at = next_fire(sch.cron, sch.timezone, utcnow())
        audit(s, actor or omename, "schedule-enable" if enabled else "schedule-disable", None,
              schedule_id=schedule_id)
        return _view(sch)
