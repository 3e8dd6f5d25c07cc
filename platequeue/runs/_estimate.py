"""Dry-run estimates before queuing, and the ETA of a run in progress.

An estimate counts what the catalog says a submission will read (wells, fields, bytes) and
times it with past succeeded wells of the same pipeline: seconds per field (read + compute)
from the latest ``HISTORY_WELLS`` wells, spread over the worker processes online for the
pipeline's queue.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import select

from pipelines import registry
from platequeue.accounts import policy
from platequeue.errors import Invalid, NotFound
from platequeue.omero import pixel_dtype
from platequeue.platform import Platform
from platequeue.queue import alive
from platequeue.store import Run, WellStatus, WellTask, session_scope, utcnow

log = logging.getLogger(__name__)

HISTORY_WELLS = 500


@dataclass(frozen=True)
class PlateEstimate:
    plate_id: int
    plate_name: str
    wells: int
    fields: int
    bytes: int
    problem: str | None = None  # why this host cannot read the plate (before anything queues)


@dataclass(frozen=True)
class Estimate:
    pipeline: str
    plates: tuple[PlateEstimate, ...]
    seconds_per_field: float | None  # None: no past wells of this pipeline
    history_wells: int
    workers: int  # worker processes online for the queue the run would use (at least 1)

    @property
    def wells(self) -> int:
        return sum(p.wells for p in self.plates)

    @property
    def fields(self) -> int:
        return sum(p.fields for p in self.plates)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.plates)

    @property
    def core_seconds(self) -> float | None:
        return None if self.seconds_per_field is None else self.seconds_per_field * self.fields

    @property
    def seconds(self) -> float | None:
        """Expected wall time with the workers online now."""
        core = self.core_seconds
        return None if core is None else core / self.workers


def field_bytes(size_x: int, size_y: int, size_z: int, size_c: int, size_t: int,
                pixels_type: str) -> int:
    """Bytes of one image's pixels as stored (every plane, every channel)."""
    return size_x * size_y * size_z * size_c * size_t * pixel_dtype(pixels_type).itemsize


def plate_estimate(platform: Platform, plate_id: int) -> PlateEstimate:
    """Wells, fields and bytes a run over ``plate_id`` reads (no permission check)."""
    plate = platform.catalog.plate(plate_id)
    if plate is None:
        raise NotFound(f"no plate with id {plate_id}")
    wells = platform.catalog.wells(plate_id)
    refs = [f for w in wells for f in w.fields]
    pixels = platform.catalog.pixels_many([f.image_id for f in refs])
    total = 0
    for ref in refs:
        px = pixels.get(ref.image_id)
        if px is not None:
            total += field_bytes(px.size_x, px.size_y, px.size_z, px.size_c, px.size_t,
                                 px.pixels_type)
    from platequeue.omero import plate_problem  # loads the readers: only for a dry run

    problem = plate_problem(platform.catalog, platform.reader, plate_id)
    return PlateEstimate(plate_id, plate.name, len(wells), len(refs), total, problem)


def seconds_per_field(platform: Platform, pipeline: str) -> tuple[float | None, int]:
    """Mean (read + compute) seconds per field over the latest succeeded wells of
    ``pipeline``, and how many wells that mean is over."""
    with session_scope(platform.audit) as s:
        rows = s.execute(
            select(WellTask.read_seconds, WellTask.compute_seconds, WellTask.fields)
            .join(Run, Run.id == WellTask.run_id)
            .where(Run.pipeline_name == pipeline,
                   WellTask.status == WellStatus.SUCCEEDED.value,
                   WellTask.fields.is_not(None), WellTask.fields > 0)
            .order_by(WellTask.finished_at.desc()).limit(HISTORY_WELLS)).all()
    if not rows:
        return None, 0
    seconds = sum((r or 0.0) + (c or 0.0) for r, c, _ in rows)
    fields = sum(int(n or 0) for _, _, n in rows)
    return seconds / fields, len(rows)


def workers_for(platform: Platform, queue: str) -> int:
    """Worker hosts online that consume ``queue`` (at least 1, so an estimate stays finite)."""
    try:
        online = alive(platform.redis)
    except (redis.RedisError, OSError) as exc:
        log.warning("cannot read the worker registry: %s", exc)
        online = {}
    return max(1, sum(1 for info in online.values() if queue in info.get("queues", [])))


def estimate(platform: Platform, *, user_id: int, plate_ids: Sequence[int],
             pipeline: str) -> Estimate:
    """What submitting ``pipeline`` over ``plate_ids`` would read, and for how long.

    Raises :class:`NotFound` (plate unknown or not readable by OMERO user ``user_id``)
    or :class:`Invalid` (unknown pipeline, no plates).
    """
    if not plate_ids:
        raise Invalid("choose at least one plate")
    try:
        pipe = registry.get(pipeline)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    plates = []
    for pid in plate_ids:
        policy.readable_plate(platform, user_id, pid)  # the same 404 for unknown/unreadable
        plates.append(plate_estimate(platform, pid))
    per_field, n = seconds_per_field(platform, pipe.name)
    from platequeue.runs._service import choose_queue

    queue = choose_queue(platform, pipe.gpu)
    return Estimate(pipe.name, tuple(plates), per_field, n, workers_for(platform, queue))


def eta_seconds(started_at: datetime | None, ended: int, total: int,
                now: datetime | None = None) -> float | None:
    """Remaining seconds by the run's own pace so far (None until a well has ended)."""
    if started_at is None or ended <= 0 or total <= ended:
        return None if total > ended else 0.0
    elapsed = ((now or utcnow()) - started_at).total_seconds()
    return max(0.0, elapsed / ended * (total - ended))


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_seconds(s: float | None) -> str:
    if s is None:
        return "unknown"
    s = round(s)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
