"""Per-well counters in Redis: what every worker process adds and ``/metrics`` reads.

One pipelined round trip per well, so every prefork pool child, every worker host and the
submitting processes add to the same totals (the collector lives in
:mod:`platequeue.ops`). Recording never raises: metrics must not fail work.
"""

from __future__ import annotations

import logging
import math
import sys
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)


class _HasRedis(Protocol):
    @property
    def redis(self) -> redis.Redis: ...


PREFIX = "platequeue:metrics:"
WELLS = PREFIX + "wells_finished"
WELLS_BY_WORKER = PREFIX + "wells_finished_by_worker"
BYTES = PREFIX + "bytes_read"
DURATION = PREFIX + "well_seconds"
GPU = PREFIX + "gpu_memory:"
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
           math.inf)
GPU_TTL = 120


def bucket_label(le: float) -> str:
    """A histogram bucket's ``le`` label."""
    return "+Inf" if math.isinf(le) else repr(le)


def _bucket(seconds: float) -> str:
    return next((bucket_label(le) for le in BUCKETS if seconds <= le), "+Inf")


def _gpu_used_bytes() -> int | None:
    """Device memory in use, only where CuPy is already loaded (never initialises CUDA)."""
    cupy: Any = sys.modules.get("cupy")
    if cupy is None:
        return None
    try:
        free, total = cupy.cuda.runtime.memGetInfo()
    except RuntimeError as exc:  # CUDARuntimeError: a CUDA error must never fail a well
        log.debug("GPU memory query failed: %s", exc)
        return None
    return int(total) - int(free)


def record_wells(platform: _HasRedis, status: str, *, n: int = 1, seconds: float | None = None,
                 nbytes: int = 0, worker: str | None = None) -> None:
    """Count ``n`` wells ended with ``status`` (never raises: metrics must not fail work)."""
    try:
        pipe = platform.redis.pipeline(transaction=False)
        pipe.hincrby(WELLS, status, n)
        if worker:
            pipe.hincrby(WELLS_BY_WORKER, f"{worker}|{status}", n)
        if seconds is not None:
            pipe.hincrby(DURATION, _bucket(seconds), 1)
            pipe.hincrbyfloat(DURATION, "sum", seconds)
        if nbytes:
            pipe.incrby(BYTES, int(nbytes))
        used = _gpu_used_bytes()
        if used is not None and worker:
            pipe.set(GPU + worker, used, ex=GPU_TTL)
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.warning("could not record well metrics: %s", exc)
