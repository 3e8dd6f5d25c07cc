"""Thin Celery tasks: each delegates to a command object in the shared kernel."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from platequeue.platform import get_platform
from platequeue.queue import WELL_TASK, WRITEBACK_TASK, Queue
from platequeue.runs import RetryLater, WellCommand, write_back_run

log = logging.getLogger(__name__)


@shared_task(name=WELL_TASK, bind=True, max_retries=None)
def well_task(self: Task, well_task_id: int) -> str:
    """Process one well of a run (claims its row; a duplicate delivery does nothing)."""
    platform = get_platform()
    queue = (self.request.delivery_info or {}).get("routing_key") or Queue.CPU
    device = "cpu"
    if queue == Queue.GPU:
        device = f"gpu:{platform.settings.cuda_visible_devices or '0'}"
    cmd = WellCommand(platform, int(well_task_id), worker=self.request.hostname or "unknown",
                      device=device)
    try:
        return cmd.run()
    except RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=exc) from exc


@shared_task(name=WRITEBACK_TASK)
def writeback_task(run_id: int) -> str:
    """Write a finished run's results back to OMERO (skipped without an OMERO server)."""
    return write_back_run(get_platform(), int(run_id))


@shared_task(name="platequeue.ping", ignore_result=False)
def ping() -> str:
    """An empty task: worker health checks and the bare-Celery baseline of the benchmarks."""
    return "pong"
