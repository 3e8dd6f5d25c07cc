"""Periodic maintenance tasks (queue ``maint``), each idempotent."""

from __future__ import annotations

import logging

from celery import shared_task
from sqlalchemy import delete

from platequeue.celery_app import CLEANUP_TASK, SWEEP_TASK
from platequeue.db import affected, session_scope
from platequeue.models import ApiToken, utcnow
from platequeue.platform import get_platform
from platequeue.sweeper import sweep

log = logging.getLogger(__name__)


@shared_task(name=SWEEP_TASK)
def sweep_task() -> dict[str, int]:
    """Requeue orphaned wells, resend lost messages, finalise and dispatch."""
    report = sweep(get_platform())
    if any(report.values()):
        log.info("sweep: %s", report)
    return report


@shared_task(name=CLEANUP_TASK)
def cleanup_task() -> int:
    """Remove expired API tokens."""
    with session_scope(get_platform().audit) as s:
        n = affected(s.execute(delete(ApiToken).where(ApiToken.expires_at < utcnow())))
    return int(n or 0)
