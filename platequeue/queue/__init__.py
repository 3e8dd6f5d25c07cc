"""Messaging: the Celery app, queue and task names, the Redis broker, worker liveness and
the per-well counters workers keep in Redis.

No database here: what to send and when is the run domain's (:mod:`platequeue.runs`);
see ``docs/architecture.md``.
"""

from __future__ import annotations

from platequeue.queue import _broker_state as broker_state
from platequeue.queue import _liveness as liveness
from platequeue.queue import _telemetry as telemetry
from platequeue.queue._broker import EmbeddedRedis, broker_depths, check_broker, redis_client
from platequeue.queue._celery import celery_config, create_celery, soft_time_limit
from platequeue.queue._liveness import alive, announce, gpu_workers_up, retire
from platequeue.queue._names import (
    CLEANUP_TASK,
    KEEPALIVE_TASK,
    QUEUES,
    RETENTION_TASK,
    SCHEDULES_TASK,
    SWEEP_TASK,
    WELL_TASK,
    WRITEBACK_TASK,
    Queue,
)
from platequeue.queue._telemetry import record_wells

__all__ = [
    "CLEANUP_TASK",
    "KEEPALIVE_TASK",
    "QUEUES",
    "RETENTION_TASK",
    "SCHEDULES_TASK",
    "SWEEP_TASK",
    "WELL_TASK",
    "WRITEBACK_TASK",
    "EmbeddedRedis",
    "Queue",
    "alive",
    "announce",
    "broker_depths",
    "broker_state",
    "celery_config",
    "check_broker",
    "create_celery",
    "gpu_workers_up",
    "liveness",
    "record_wells",
    "redis_client",
    "retire",
    "soft_time_limit",
    "telemetry",
]
