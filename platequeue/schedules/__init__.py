"""Users' recurring (re)processing: cron schedules in IANA time zones, and the beat tick
that fires the due ones (:func:`tick`). See ``docs/architecture.md``."""

from __future__ import annotations

from platequeue.schedules._fire import VERSION_RETRY, tick
from platequeue.schedules._schedules import (
    MAX_ID,
    TARGETS,
    ScheduleView,
    create,
    delete,
    get,
    list_schedules,
    next_fire,
    run_params,
    set_enabled,
    validate_cron,
    zone,
)

__all__ = [
    "MAX_ID",
    "TARGETS",
    "VERSION_RETRY",
    "ScheduleView",
    "create",
    "delete",
    "get",
    "list_schedules",
    "next_fire",
    "run_params",
    "set_enabled",
    "tick",
    "validate_cron",
    "zone",
]
