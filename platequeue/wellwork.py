"""The work of one well task, as a command object the Celery task delegates to.

claim → check not cancelled → read every field → run the pipeline → check not cancelled →
upsert measurements and count the well in one transaction (fenced by the attempt number, so a
stale duplicate delivery can never count twice) → claim finalisation once → dispatch more.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from dataclasses import dataclass
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session

from pipelines import backend, registry
from platequeue.celery_app import WRITEBACK_TASK
from platequeue.db import affected, session_scope
from platequeue.dispatch import dispatch
from platequeue.measurements import upsert_measurements
from platequeue.models import Run, RunStatus, WellStatus, WellTask, utcnow
from platequeue.platform import Platform
from platequeue.runs import audit

log = logging.getLogger(__name__)

PERMANENT = (ValueError, LookupError, TypeError, ArithmeticError, SoftTimeLimitExceeded)
"""Errors that retrying cannot fix (corrupt data, bad parameters, bugs): fail the well now."""


class RetryLater(Exception):
    """Transient failure: the task wrapper re-queues the well after ``countdown`` seconds."""

    def __init__(self, countdown: float, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.countdown = countdown


class Cancelled(Exception):
    """The run was cancelled while this well was running."""


@dataclass
class WellCommand:
    platform: Platform
    well_task_id: int
    worker: str
    device: str = "cpu"

    def run(self) -> str:
        claim = self._claim()
        if claim is None:
            return "skipped"
        run_id, attempts = claim
        log.info("well task %d claimed (run %d, attempt %d, %s)",
                 self.well_task_id, run_id, attempts, self.device)
        if attempts > self.platform.settings.well_max_attempts:
            self._fail(run_id, attempts, f"gave up after {attempts - 1} attempts "
                                         "(the worker was lost each time)")
            return "failed"
        try:
            rows, stats = self._compute(run_id)
            self._succeed(run_id, attempts, rows, stats)
        except Cancelled:
            self._mark(run_id, attempts, WellStatus.CANCELLED, None)
            return "cancelled"
        except PERMANENT as exc:
            self._fail(run_id, attempts, f"{type(exc).__name__}: {exc}")
            return "failed"
        except Exception as exc:
            if attempts >= self.platform.settings.well_max_attempts:
                self._fail(run_id, attempts, f"{type(exc).__name__}: {exc} "
                                             f"(after {attempts} attempts)")
                return "failed"
            log.warning("well task %d attempt %d failed, will retry: %s\n%s",
                        self.well_task_id, attempts, exc, traceback.format_exc())
            self._mark(run_id, attempts, WellStatus.RETRY, f"{type(exc).__name__}: {exc}")
            raise RetryLater(min(60.0, 2.0 ** attempts), exc) from exc
        finally:
            backend.free_gpu_memory()
        return "succeeded"

    # -- steps ---------------------------------------------------------------------------
    def _claim(self) -> tuple[int, int] | None:
        run_live = exists().where(and_(Run.id == WellTask.run_id,
                                       Run.status != RunStatus.CANCELLED.value))
        values: dict[str, Any] = dict(status=WellStatus.RUNNING.value,
                                      attempts=WellTask.attempts + 1, worker=self.worker,
                                      worker_pid=os.getpid(), device=self.device,
                                      started_at=utcnow(), error=None)
        with session_scope(self.platform.audit) as s:
            got = s.execute(
                update(WellTask)
                .where(WellTask.id == self.well_task_id,
                       WellTask.status.in_((WellStatus.QUEUED.value, WellStatus.RETRY.value)),
                       run_live)
                .values(**values).returning(WellTask.run_id, WellTask.attempts)
            ).first()
            if got is None:
                got = self._take_over_orphan(s, values, run_live)
            if got is None:
                return None
            s.execute(update(Run).where(Run.id == got[0], Run.status == "queued")
                      .values(status=RunStatus.RUNNING.value, started_at=utcnow()))
            return int(got[0]), int(got[1])

    def _take_over_orphan(self, s: Session, values: dict[str, Any],
                          run_live: Any) -> Any:
        """A redelivery after this host's pool child died mid-task (task_reject_on_worker_lost)."""
        row = s.execute(select(WellTask.worker, WellTask.worker_pid)
                        .where(WellTask.id == self.well_task_id,
                               WellTask.status == WellStatus.RUNNING.value)).first()
        if row is None or row[0] != self.worker or row[1] is None or _pid_alive(row[1]):
            return None
        log.warning("well task %d: pool process %d died mid-task; taking over",
                    self.well_task_id, row[1])
        return s.execute(
            update(WellTask)
            .where(WellTask.id == self.well_task_id, WellTask.status == "running",
                   WellTask.worker_pid == row[1], run_live)
            .values(**values).returning(WellTask.run_id, WellTask.attempts)).first()

    def _check_live(self, run_id: int) -> None:
        with session_scope(self.platform.audit) as s:
            if s.scalar(select(Run.status).where(Run.id == run_id)) == "cancelled":
                raise Cancelled()

    def _compute(self, run_id: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        with session_scope(self.platform.audit) as s:
            run = s.get(Run, run_id)
            wt = s.get(WellTask, self.well_task_id)
            assert run is not None and wt is not None
            pipeline_name, params, plate_id, well_id = (run.pipeline_name, dict(run.params),
                                                        run.plate_id, wt.well_id)
        pipe = registry.get(pipeline_name)
        catalog = self.platform.catalog
        well = catalog.well(well_id)
        if well is None:
            raise LookupError(f"well {well_id} no longer exists in OMERO")
        plate = catalog.plate(plate_id)
        channels = list(plate.channels) if plate is not None else []
        self._check_live(run_id)
        rows: list[dict[str, Any]] = []
        read_s = compute_s = 0.0
        nbytes = 0
        for ref in well.fields:
            t0 = time.perf_counter()
            pixels = catalog.pixels(ref.image_id)
            host = self.platform.read_field(pixels)
            field = backend.to_device(host, "gpu" if self.device.startswith("gpu") else "cpu")
            nbytes += int(host.nbytes)
            t1 = time.perf_counter()
            features = pipe.run_field(field, channels=channels, params=params)
            t2 = time.perf_counter()
            read_s += t1 - t0
            compute_s += t2 - t1
            rows.append({"field": ref.field, "image_id": ref.image_id, "features": features})
        self._check_live(run_id)
        return rows, {"read_seconds": read_s, "compute_seconds": compute_s,
                      "bytes_read": nbytes, "fields": len(rows)}

    def _fenced(self, attempts: int) -> Any:
        return and_(WellTask.id == self.well_task_id,
                    WellTask.status == WellStatus.RUNNING.value,
                    WellTask.attempts == attempts, WellTask.worker == self.worker)

    def _succeed(self, run_id: int, attempts: int, rows: list[dict[str, Any]],
                 stats: dict[str, Any]) -> None:
        with session_scope(self.platform.audit) as s:
            done = affected(s.execute(update(WellTask).where(self._fenced(attempts))
                             .values(status=WellStatus.SUCCEEDED.value, finished_at=utcnow(),
                                     **stats)))
            if done != 1:
                log.warning("well task %d: lost its claim; result discarded", self.well_task_id)
                return
            well_id = s.scalar(select(WellTask.well_id).where(
                WellTask.id == self.well_task_id))
            assert well_id is not None
            upsert_measurements(s, run_id, well_id, rows)
            s.execute(update(Run).where(Run.id == run_id)
                      .values(wells_done=Run.wells_done + 1))
        self._after(run_id)

    def _fail(self, run_id: int, attempts: int, error: str) -> None:
        log.error("well task %d failed: %s", self.well_task_id, error)
        with session_scope(self.platform.audit) as s:
            done = affected(s.execute(update(WellTask).where(self._fenced(attempts))
                             .values(status=WellStatus.FAILED.value, finished_at=utcnow(),
                                     error=error[:4000])))
            if done == 1:
                s.execute(update(Run).where(Run.id == run_id)
                          .values(wells_failed=Run.wells_failed + 1))
        self._after(run_id)

    def _mark(self, run_id: int, attempts: int, status: WellStatus, error: str | None) -> None:
        with session_scope(self.platform.audit) as s:
            s.execute(update(WellTask).where(self._fenced(attempts))
                      .values(status=status.value, error=error,
                              finished_at=utcnow() if status != WellStatus.RETRY else None))

    def _after(self, run_id: int) -> None:
        finalize(self.platform, run_id)
        dispatch(self.platform)


def finalize(platform: Platform, run_id: int) -> str | None:
    """Claim finalisation exactly once when every well has ended; returns the final status."""
    with session_scope(platform.audit) as s:
        got = s.execute(
            update(Run)
            .where(Run.id == run_id, Run.finalized.is_(False),
                   Run.wells_done + Run.wells_failed >= Run.wells_total,
                   Run.status.in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value)))
            .values(finalized=True, finished_at=utcnow())
            .returning(Run.wells_done, Run.wells_failed, Run.wells_total)).first()
        if got is None:
            return None
        done, failed, _total = got
        final = (RunStatus.SUCCEEDED if failed == 0 else
                 RunStatus.FAILED if done == 0 else RunStatus.PARTIAL)
        s.execute(update(Run).where(Run.id == run_id).values(status=final.value))
        audit(s, "platequeue", "finish", run_id, status=final.value, wells_done=done,
              wells_failed=failed)
    log.info("run %d finished: %s", run_id, final.value)
    platform.send(WRITEBACK_TASK, [run_id], "maint")
    return final.value


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
