"""Prometheus metrics for the platform.

Per-well counters are kept in Redis (one pipelined round trip per well), so every prefork
pool child, every worker host and the submitting processes add to the same totals without
prometheus-client's multiprocess mode; the web's ``/metrics`` reads them at scrape time
together with runs by status (the audit store) and queue depth (the broker's lists):

* ``platequeue_runs{status}``: runs per status (gauge);
* ``platequeue_wells_finished_total{status}``: wells ended (succeeded, failed, skipped,
  cancelled); ``rate()`` of it is wells per second;
* ``platequeue_well_duration_seconds``: read + compute time of succeeded wells (histogram);
* ``platequeue_bytes_read_total``: pixel bytes read from the repository;
* ``platequeue_queue_depth{queue}``: messages waiting in each queue's lists (``gpu``, ``cpu``,
  ``maint``, ``custom``);
* ``platequeue_gpu_memory_bytes{worker}``: device memory in use, reported by GPU workers
  after each well (CuPy only; expires when a worker stops reporting).

A worker started with ``METRICS_PORT`` > 0 also serves, on that port, its own
``platequeue_worker_wells_finished_total{status}`` and GPU memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import redis
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from platequeue.queue import broker_depths, telemetry
from platequeue.store import Run, RunStatus, WellStatus, session_scope

if TYPE_CHECKING:
    from platequeue.platform import Platform

log = logging.getLogger(__name__)


def _str_map(raw: dict[Any, Any]) -> dict[str, str]:
    return {(k.decode() if isinstance(k, bytes) else str(k)):
            (v.decode() if isinstance(v, bytes) else str(v)) for k, v in raw.items()}


def _gpu_family(r: redis.Redis, worker: str | None = None) -> GaugeMetricFamily:
    fam = GaugeMetricFamily("platequeue_gpu_memory_bytes", "GPU memory in use (CuPy workers)",
                            labels=["worker"])
    pattern = telemetry.GPU + (worker if worker else "*")
    for key in r.scan_iter(match=pattern, count=500):
        name = (key.decode() if isinstance(key, bytes) else str(key))
        name = name.removeprefix(telemetry.GPU)
        value = r.get(key)
        if value is not None:
            fam.add_metric([name], float(value))
    return fam


class PlatformCollector(Collector):
    """Everything in the module docstring, read at scrape time."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def collect(self) -> Iterator[Metric]:
        yield from self._runs()
        try:
            yield from self._redis_families()
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: Redis unavailable: %s", exc)

    def _runs(self) -> Iterator[Metric]:
        fam = GaugeMetricFamily("platequeue_runs", "Runs by status", labels=["status"])
        try:
            with session_scope(self.platform.audit) as s:
                counts = dict(s.execute(select(Run.status, func.count())
                                        .group_by(Run.status)).all())
        except SQLAlchemyError as exc:
            log.warning("metrics: audit store unavailable: %s", exc)
            return
        for status in RunStatus:
            fam.add_metric([status.value], float(counts.get(status.value, 0)))
        yield fam

    def _redis_families(self) -> Iterator[Metric]:
        r = self.platform.redis
        wells = CounterMetricFamily("platequeue_wells_finished", "Wells ended, by status",
                                    labels=["status"])
        counts = {st.value: "0" for st in (WellStatus.SUCCEEDED, WellStatus.FAILED,
                                            WellStatus.SKIPPED)}  # series exist at 0
        counts.update(_str_map(r.hgetall(telemetry.WELLS)))
        for status, n in sorted(counts.items()):
            wells.add_metric([status], float(n))
        yield wells
        yield CounterMetricFamily("platequeue_bytes_read", "Pixel bytes read",
                                  value=float(r.get(telemetry.BYTES) or 0))
        raw = _str_map(r.hgetall(telemetry.DURATION))
        cumulative, buckets = 0.0, []
        for le in telemetry.BUCKETS:
            cumulative += float(raw.get(telemetry.bucket_label(le), 0))
            buckets.append((telemetry.bucket_label(le), cumulative))
        yield HistogramMetricFamily("platequeue_well_duration_seconds",
                                    "Read + compute seconds of succeeded wells",
                                    buckets=buckets, sum_value=float(raw.get("sum", 0)))
        depth = GaugeMetricFamily("platequeue_queue_depth", "Messages waiting per queue",
                                  labels=["queue"])
        for queue, waiting in broker_depths(r).items():
            depth.add_metric([queue], float(waiting))
        yield depth
        yield _gpu_family(r)


class WorkerCollector(Collector):
    """One worker's own view (its ``METRICS_PORT``): its wells and its GPU memory."""

    def __init__(self, platform: Platform, worker: str) -> None:
        self.platform = platform
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        fam = CounterMetricFamily("platequeue_worker_wells_finished",
                                  "Wells this worker ended, by status", labels=["status"])
        try:
            r = self.platform.redis
            for key, n in sorted(_str_map(r.hgetall(telemetry.WELLS_BY_WORKER)).items()):
                worker, _, status = key.rpartition("|")
                if worker == self.worker:
                    fam.add_metric([status], float(n))
            yield fam
            yield _gpu_family(r, self.worker)
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: Redis unavailable: %s", exc)


def platform_registry(platform: Platform) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(platform))
    return registry


def serve_worker(platform: Platform, worker: str) -> bool:
    """Serve this worker's metrics on ``METRICS_PORT`` (main process; off when 0)."""
    port = platform.settings.metrics_port
    if port <= 0:
        return False
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerCollector(platform, worker))
    start_http_server(port, registry=registry)
    log.info("worker %s serves metrics on port %d", worker, port)
    return True
