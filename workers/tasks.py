"""Thin Celery tasks: each delegates to a command object in the shared kernel."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from platequeue.platform import get_platform
from platequeue.queue import WELL_TASK, WRITEBACK_TASK, Queue
from platequeue.queue import liveness as workers_registry
from platequeue.runs import RetryLater, WellCommand, write_back_run

log = logging.getLogger(__name__)
DB_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
DB_RETRY_CAP = 10.0  # seconds between tries once the back-off has grown
DB_RETRIES = 120  # about 20 minutes of outage


@shared_task(name=WELL_TASK, bind=True, max_retries=None)
def well_task(self: Task, well_task_id: int) -> str:
    """Process one well of a run (claims its row; a duplicate delivery does nothing)."""
    platform = get_platform()
    queue = (self.request.delivery_info or {}).get("routing_key") or Queue.CPU
    device = "cpu"
    if queue == Queue.GPU:
        device = f"gpu:{platform.settings.cuda_visible_devices or '0'}"
    cmd = WellCommand(platform, int(well_task_id), worker=self.request.hostname or "unknown",
                      device=device, task_id=self.request.id,
                      boot=workers_registry.incarnation())
    try:
        return cmd.run()
    except RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=exc) from exc
    except DB_UNAVAILABLE as exc:
        # The audit store is unreachable: never ack-and-burn the message. Send it again
        # later (bounded; past the bound the sweeper, finding no message for the waiting
        # row, sends a new one). A row this attempt already claimed is taken over by the
        # retried message (same incarnation, same task id) or swept.
        tries = self.request.retries or 0
        log.warning("well task %s: the audit store is unavailable (%s); retry %d",
                    well_task_id, type(exc).__name__, tries + 1)
        raise self.retry(countdown=min(DB_RETRY_CAP, 2.0 ** tries), exc=exc,
                         max_retries=DB_RETRIES) from exc


@shared_task(name=WRITEBACK_TASK)
def writeback_task(run_id: int) -> str:
    """Write a finished run's results back to OMERO (skipped without an OMERO server)."""
    return write_back_run(get_platform(), int(run_id))


@shared_task(name="platequeue.ping", ignore_result=False)
def ping() -> str:
    """An empty task: worker health checks and the bare-Celery baseline of the benchmarks."""
    return "pong"
