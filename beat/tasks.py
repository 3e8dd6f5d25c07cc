"""Periodic maintenance tasks (queue ``maint``), each idempotent; logic in the kernel."""

from __future__ import annotations

import logging

from celery import shared_task

from platequeue import schedules
from platequeue.ops import maintenance
from platequeue.platform import get_platform
from platequeue.queue import (
    CLEANUP_TASK,
    KEEPALIVE_TASK,
    RETENTION_TASK,
    SCHEDULES_TASK,
    SWEEP_TASK,
)
from platequeue.runs import retention, sweep

log = logging.getLogger(__name__)


@shared_task(name=SWEEP_TASK)
def sweep_task() -> dict[str, int]:
    """Requeue orphaned wells, resend lost messages, finalise and dispatch.

    Not on beat's schedule: every worker sweeps from a thread of its own
    (:func:`platequeue.runs.sweep_if_due`); this task remains for sending by hand."""
    report = sweep(get_platform())
    if any(report.values()):
        log.info("sweep: %s", report)
    return report


@shared_task(name=CLEANUP_TASK)
def cleanup_task() -> dict[str, int]:
    """Remove expired API tokens; bound web sessions that have no time-to-live."""
    return maintenance.cleanup(get_platform())


@shared_task(name=SCHEDULES_TASK)
def schedules_tick() -> dict[str, int]:
    """Fire the due user schedules (row locks: two beats never double-fire)."""
    return schedules.tick(get_platform())


@shared_task(name=KEEPALIVE_TASK)
def omero_keepalive_task() -> dict[str, list[int]]:
    """Keep alive the OMERO sessions of active runs; release the rest."""
    return maintenance.keepalive_report(get_platform())


@shared_task(name=RETENTION_TASK)
def retention_task() -> dict[str, int]:
    """Purge results of runs older than RETENTION_DAYS (0: off)."""
    return retention(get_platform())
