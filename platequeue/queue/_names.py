"""Queue and task names, defined once: the broker, the workers, ``up``, the CLI and the
operator overview all use these."""

from __future__ import annotations

import enum


class Queue(enum.StrEnum):
    GPU = "gpu"
    CPU = "cpu"
    MAINT = "maint"  # finalisation follow-ups, write-back, beat's housekeeping
    CUSTOM = "custom"  # runs with a developer's custom step; only `-Q custom` workers


QUEUES: tuple[str, ...] = tuple(q.value for q in Queue)
"""Every queue, in the order operators see them."""

WELL_TASK = "platequeue.well"
WRITEBACK_TASK = "platequeue.writeback"
SWEEP_TASK = "platequeue.sweep"
CLEANUP_TASK = "platequeue.cleanup"
SCHEDULES_TASK = "platequeue.schedules_tick"
KEEPALIVE_TASK = "platequeue.omero_keepalive"
RETENTION_TASK = "platequeue.retention"
