"""Worker lifecycle: fresh DB engines and the GPU memory cap after fork; while the worker
runs, a liveness key naming this incarnation and its active tasks, and the sweeper; the
record of wells killed at the hard time limit."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import numpy
import redis
from billiard.exceptions import TimeLimitExceeded
from celery.signals import (
    task_failure,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from celery.worker import state as worker_state

from pipelines import backend
from platequeue.omero import forbid_jvm_here
from platequeue.ops import metrics
from platequeue.platform import get_platform
from platequeue.queue import WELL_TASK
from platequeue.queue import liveness as workers_registry
from platequeue.runs import hard_limit_error, release_task, sweep_if_due
from platequeue.store import dispose_all

log = logging.getLogger(__name__)
_stop = threading.Event()


@worker_init.connect
def _draw_boot_id(**_: Any) -> None:
    """Draw this incarnation's boot id in the parent, before the pool forks; import the CPU
    image library there too, so no pool process (a replacement after a time-limit kill
    included) imports it inside a well, where a time limit could interrupt the import and
    leave the process with a half-initialised module."""
    workers_registry.incarnation()
    backend.ndimage_for(numpy)  # scipy.ndimage (never CuPy: the parent stays off the GPU)


@worker_process_init.connect
def _fresh_engines(**_: Any) -> None:
    dispose_all()
    limit_gpu_memory()


def limit_gpu_memory() -> bool:
    """Cap CuPy's memory pool at ``CUPY_GPU_MEMORY_LIMIT`` in a GPU worker's process (one
    with a device in ``CUDA_VISIBLE_DEVICES``); returns whether a limit was set."""
    settings = get_platform().settings
    if not settings.cupy_gpu_memory_limit or not settings.cuda_visible_devices:
        return False
    if not backend.cupy_available():
        log.warning("CUPY_GPU_MEMORY_LIMIT is set but CuPy or its GPU is unavailable; ignored")
        return False
    backend.set_gpu_memory_limit(settings.cupy_gpu_memory_limit)
    log.info("CuPy memory pool limited to %s per GPU", settings.cupy_gpu_memory_limit)
    return True


@worker_init.connect
def _no_jvm_in_prefork_parent(sender: Any = None, **_: Any) -> None:
    """A JVM must not run in a process that forks pool children: refuse it here."""
    if "prefork" in repr(getattr(sender, "pool_cls", "")):
        forbid_jvm_here()


def _queues(consumer: Any) -> list[str]:
    try:
        return sorted(q.name for q in consumer.task_consumer.queues)
    except AttributeError:
        return []


def _active_task_ids() -> list[str]:
    for _ in range(3):  # the consumer thread may change the set while we copy it
        try:
            return sorted(str(r.id) for r in tuple(worker_state.active_requests))
        except RuntimeError:
            continue
    return []


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    platform = get_platform()
    hostname = getattr(sender, "hostname", None) or "unknown"
    boot = workers_registry.incarnation()
    info = {"queues": _queues(sender), "pid": os.getpid(),
            "gpu": platform.settings.cuda_visible_devices, "boot": boot}
    ttl = platform.settings.worker_heartbeat_ttl

    def beat() -> None:
        while not _stop.is_set():
            try:
                workers_registry.announce(platform.redis, hostname,
                                          {**info, "active": _active_task_ids()}, ttl)
            except (redis.RedisError, OSError) as exc:  # keep beating through hiccups
                log.warning("worker heartbeat failed: %s", exc)
            _stop.wait(ttl / 3)

    def sweep() -> None:  # at once (a restarted worker repairs first), then every interval
        while not _stop.is_set():
            try:
                report = sweep_if_due(platform, f"{hostname}/{boot}")
            except Exception as exc:  # noqa: BLE001  (DB or broker down: try next interval)
                log.warning("sweep failed: %s: %s", type(exc).__name__, exc)
                report = None
            if report and any(report.values()):
                log.info("sweep: %s", report)
            _stop.wait(platform.settings.sweep_interval)

    threading.Thread(target=beat, name="platequeue-heartbeat", daemon=True).start()
    threading.Thread(target=sweep, name="platequeue-sweeper", daemon=True).start()
    metrics.serve_worker(platform, hostname)  # METRICS_PORT > 0 only
    log.info("worker %s (boot %s) ready on queues %s", hostname, boot, info["queues"])


@task_failure.connect
def _hard_time_limit(sender: Any = None, task_id: str | None = None,
                     exception: BaseException | None = None, args: Any = None,
                     **_: Any) -> None:
    """The parent killed a well's pool process at the hard time limit and acked its
    message: record the attempt now (retry or, once attempts are spent, fail), naming the
    limit. In a thread: the parent's event loop must not wait on the database. Should this
    fail, the sweeper still finds the well no longer among this worker's active tasks."""
    if (not isinstance(exception, TimeLimitExceeded) or getattr(sender, "name", None) != WELL_TASK
            or not args or task_id is None):
        return
    platform = get_platform()
    why = hard_limit_error(platform.settings)

    def record() -> None:
        try:
            release_task(platform, int(args[0]), task_id, why)
        except Exception as exc:  # noqa: BLE001  (the sweeper catches up)
            log.warning("could not record the hard time limit of task %s: %s", task_id, exc)

    threading.Thread(target=record, name="platequeue-time-limit", daemon=True).start()


@worker_shutdown.connect
def _stop_heartbeat(sender: Any = None, **_: Any) -> None:
    _stop.set()
    hostname = getattr(sender, "hostname", None)
    if hostname:
        try:
            workers_registry.retire(get_platform().redis, hostname,
                                    workers_registry.incarnation())
        except (redis.RedisError, OSError) as exc:
            log.warning("could not retire worker key: %s", exc)
