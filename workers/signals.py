"""Worker lifecycle: fresh DB engines and the GPU memory cap after fork, a liveness key while
the worker runs."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import redis
from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown

from pipelines import backend
from platequeue.omero import forbid_jvm_here
from platequeue.ops import metrics
from platequeue.platform import get_platform
from platequeue.queue import liveness as workers_registry
from platequeue.store import dispose_all

log = logging.getLogger(__name__)
_stop = threading.Event()


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


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    platform = get_platform()
    hostname = getattr(sender, "hostname", None) or "unknown"
    info = {"queues": _queues(sender), "pid": os.getpid(),
            "gpu": platform.settings.cuda_visible_devices}
    ttl = platform.settings.worker_heartbeat_ttl

    def beat() -> None:
        while not _stop.is_set():
            try:
                workers_registry.announce(platform.redis, hostname, info, ttl)
            except (redis.RedisError, OSError) as exc:  # keep beating through hiccups
                log.warning("worker heartbeat failed: %s", exc)
            _stop.wait(ttl / 3)

    threading.Thread(target=beat, name="platequeue-heartbeat", daemon=True).start()
    metrics.serve_worker(platform, hostname)  # METRICS_PORT > 0 only
    log.info("worker %s ready on queues %s", hostname, info["queues"])


@worker_shutdown.connect
def _stop_heartbeat(sender: Any = None, **_: Any) -> None:
    _stop.set()
    hostname = getattr(sender, "hostname", None)
    if hostname:
        try:
            workers_registry.retire(get_platform().redis, hostname)
        except (redis.RedisError, OSError) as exc:
            log.warning("could not retire worker key: %s", exc)
