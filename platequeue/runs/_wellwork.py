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
from platequeue.logs import log_context
from platequeue.omero import fileset_files
from platequeue.platform import Platform
from platequeue.queue import record_wells, soft_time_limit
from platequeue.runs import _custom_steps as custom_steps
from platequeue.runs._dispatch import dispatch, refill_due
from platequeue.runs._finalize import finalize
from platequeue.runs._incremental import fingerprint
from platequeue.runs._measurements import upsert_measurements
from platequeue.runs._runcache import run_facts, well_and_pixels
from platequeue.store import (
    Run,
    RunStatus,
    WellStatus,
    WellTask,
    affected,
    dispose_all,
    session_scope,
    utcnow,
)

log = logging.getLogger(__name__)

PERMANENT = (ValueError, LookupError, TypeError, ArithmeticError)
"""Errors that retrying cannot fix (corrupt data, bad parameters, bugs): fail the well now.

A soft time limit is not among them: a hung read (a stuck mount, a wedged GPU) may pass, so
it is retried like any transient error, up to ``WELL_MAX_ATTEMPTS``, its error naming the
limit. (The hard limit kills the pool process; the sweeper records that attempt.)"""


class RetryLater(Exception):
    """Transient failure: the task wrapper re-queues the well after ``countdown`` seconds."""

    def __init__(self, countdown: float, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.countdown = countdown


@dataclass(frozen=True)
class Claim:
    run_id: int
    attempts: int
    well_id: int
    pipeline: str
    params: dict[str, Any]
    channels: list[str]
    user_id: int
    custom_step: int | None = None
    plate_id: int = 0


@dataclass
class WellCommand:
    platform: Platform
    well_task_id: int
    worker: str
    device: str = "cpu"
    task_id: str | None = None
    """The id of the message being executed (the owner's heartbeat lists it while it runs)."""
    boot: str | None = None
    """The worker incarnation's boot id (:func:`platequeue.queue.liveness.incarnation`)."""

    def run(self) -> str:
        claim = self._claim()
        if claim is None:
            return "skipped"
        with log_context(run_id=claim.run_id, well=claim.well_id, user=claim.user_id):
            return self._run_claimed(claim)

    def _run_claimed(self, claim: Claim) -> str:
        run_id, attempts = claim.run_id, claim.attempts
        log.info("well task %d claimed (run %d, attempt %d, %s)",
                 self.well_task_id, run_id, attempts, self.device)
        if attempts > self.platform.settings.well_max_attempts:
            self._fail(claim, f"gave up after {attempts - 1} attempts "
                              "(the worker was lost each time)")
            return "failed"
        try:
            rows, stats = self._compute(claim)
            return self._succeed(claim, rows, stats)
        except PERMANENT as exc:
            self._fail(claim, f"{type(exc).__name__}: {exc}")
            return "failed"
        except SoftTimeLimitExceeded as exc:
            dispose_all()  # the limit may have cut a query short: drop this process's pools
            soft = soft_time_limit(self.platform.settings)
            return self._transient(claim, exc, f"soft time limit of {soft} s exceeded "
                                               "(TASK_TIME_LIMIT minus 30 s)")
        except Exception as exc:  # noqa: BLE001  (transient: _transient retries or fails)
            return self._transient(claim, exc, f"{type(exc).__name__}: {exc}")
        finally:
            backend.free_gpu_memory()

    def _transient(self, claim: Claim, exc: BaseException, error: str) -> str:
        """Fail the well once its attempts are spent, else mark it for retry and re-raise
        as :class:`RetryLater` (a failure of this bookkeeping itself propagates: the task
        wrapper then retries the message, and the row is taken over or swept)."""
        attempts = claim.attempts
        if attempts >= self.platform.settings.well_max_attempts:
            self._fail(claim, f"{error} (after {attempts} attempts)")
            return "failed"
        log.warning("well task %d attempt %d failed, will retry: %s\n%s",
                    self.well_task_id, attempts, error, traceback.format_exc())
        self._mark_retry(claim, f"{error} (attempt {attempts})")
        raise RetryLater(min(60.0, 2.0 ** attempts), exc) from exc

    # -- steps ---------------------------------------------------------------------------
    def _claim(self) -> Claim | None:
        """Take the row (queued/retry, run not cancelled) and read what the work needs."""
        run_live = exists().where(and_(Run.id == WellTask.run_id,
                                       Run.status != RunStatus.CANCELLED.value))
        values: dict[str, Any] = dict(status=WellStatus.RUNNING.value,
                                      attempts=WellTask.attempts + 1, worker=self.worker,
                                      worker_pid=os.getpid(), device=self.device,
                                      worker_boot=self.boot, started_at=utcnow(), error=None)
        if self.task_id is not None:
            values["task_id"] = self.task_id
        with session_scope(self.platform.audit) as s:
            got = s.execute(
                update(WellTask)
                .where(WellTask.id == self.well_task_id,
                       WellTask.status.in_((WellStatus.QUEUED.value, WellStatus.RETRY.value)),
                       run_live)
                .values(**values)
                .returning(WellTask.run_id, WellTask.attempts, WellTask.well_id)
            ).first()
            if got is None:
                got = self._take_over_orphan(s, values, run_live)
            if got is None:
                return None
            facts = run_facts(self.platform, s, int(got[0]))
            return Claim(run_id=facts.run_id, attempts=int(got[1]), well_id=int(got[2]),
                         pipeline=facts.pipeline, params=dict(facts.params),
                         channels=list(facts.channels), user_id=facts.user_id,
                         custom_step=facts.custom_step, plate_id=facts.plate_id)

    def _take_over_orphan(self, s: Session, values: dict[str, Any],
                          run_live: Any) -> Any:
        """Take over a row this very incarnation claimed for this very message, whose
        attempt ended unrecorded: a redelivery after the pool child died mid-task
        (task_reject_on_worker_lost), or a retry after the bookkeeping failed (DB outage)."""
        row = s.execute(select(WellTask.worker, WellTask.worker_pid, WellTask.worker_boot,
                               WellTask.task_id, WellTask.attempts)
                        .where(WellTask.id == self.well_task_id,
                               WellTask.status == WellStatus.RUNNING.value)).first()
        if row is None or row.worker != self.worker or row.worker_boot != self.boot:
            return None
        same_message = self.task_id is not None and row.task_id == self.task_id
        pid_dead = row.worker_pid is not None and not _pid_alive(row.worker_pid)
        if not (same_message or (row.task_id is None and pid_dead)):
            return None
        log.warning("well task %d: attempt %d ended unrecorded; taking over",
                    self.well_task_id, row.attempts)
        return s.execute(
            update(WellTask)
            .where(WellTask.id == self.well_task_id, WellTask.status == WellStatus.RUNNING,
                   WellTask.attempts == row.attempts, run_live)
            .values(**values)
            .returning(WellTask.run_id, WellTask.attempts, WellTask.well_id)).first()

    def _compute(self, claim: Claim) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        pipe = registry.get(claim.pipeline)
        well, pixels = well_and_pixels(self.platform, claim, claim.well_id)
        if well is None:
            raise LookupError(f"well {claim.well_id} no longer exists in OMERO")
        input_fp = fingerprint(
            self.platform.reader,
            (pixels[ref.image_id] for ref in well.fields if ref.image_id in pixels),
            pipe.hash, claim.params,
            fileset_files(self.platform.omero, self.platform.reader,
                          [ref.pixels_id for ref in well.fields]))
        # verified (hash, signature) before any field is read; refused -> the well fails
        custom = (None if claim.custom_step is None
                  else custom_steps.load_verified(self.platform, claim.custom_step))
        rows: list[dict[str, Any]] = []
        read_s = compute_s = 0.0
        nbytes = 0
        target = "gpu" if self.device.startswith("gpu") else "cpu"
        for ref in well.fields:
            t0 = time.perf_counter()
            if ref.image_id not in pixels:
                raise LookupError(f"image {ref.image_id} of well {well.label} has no pixels")
            host = self.platform.read_field(pixels[ref.image_id], native=target == "cpu")
            field = backend.to_device(host, target)
            nbytes += int(host.nbytes)
            t1 = time.perf_counter()
            features = pipe.run_field(field, channels=claim.channels, params=claim.params)
            if custom is not None:
                features.update(custom_steps.features(custom[0], custom[1](field)))
            t2 = time.perf_counter()
            read_s += t1 - t0
            compute_s += t2 - t1
            rows.append({"field": ref.field, "image_id": ref.image_id, "features": features})
        return rows, {"read_seconds": read_s, "compute_seconds": compute_s,
                      "bytes_read": nbytes, "fields": len(rows), "input_fingerprint": input_fp}

    def _fenced(self, attempts: int) -> Any:
        return and_(WellTask.id == self.well_task_id,
                    WellTask.status == WellStatus.RUNNING.value,
                    WellTask.attempts == attempts, WellTask.worker == self.worker)

    def _succeed(self, claim: Claim, rows: list[dict[str, Any]],
                 stats: dict[str, Any]) -> str:
        """One transaction: re-check cancel, count the well, upsert its measurements."""
        with session_scope(self.platform.audit) as s:
            run_live = exists().where(and_(Run.id == claim.run_id,
                                           Run.status != RunStatus.CANCELLED.value))
            done = affected(s.execute(update(WellTask)
                                      .where(self._fenced(claim.attempts), run_live)
                                      .values(status=WellStatus.SUCCEEDED.value,
                                              finished_at=utcnow(), **stats)))
            if done != 1:  # cancelled meanwhile, or the claim was lost: say which
                run_status = s.scalar(select(Run.status).where(Run.id == claim.run_id))
                if run_status == RunStatus.CANCELLED.value:
                    s.execute(update(WellTask).where(self._fenced(claim.attempts)).values(
                        status=WellStatus.CANCELLED.value, finished_at=utcnow()))
                    return "cancelled"
                log.warning("well task %d: lost its claim; result discarded", self.well_task_id)
                return "skipped"
            upsert_measurements(s, claim.run_id, claim.well_id, rows)
            counts = s.execute(update(Run).where(Run.id == claim.run_id)
                               .values(wells_done=Run.wells_done + 1)
                               .returning(Run.wells_done, Run.wells_failed, Run.wells_total)
                               ).one()
            more = refill_due(s, claim.user_id, self.platform.settings.fair_share_wells)
        self._after(claim.run_id, counts, more)
        record_wells(self.platform, WellStatus.SUCCEEDED, worker=self.worker,
                     nbytes=stats["bytes_read"],
                     seconds=stats["read_seconds"] + stats["compute_seconds"])
        return "succeeded"

    def _fail(self, claim: Claim, error: str) -> None:
        log.error("well task %d failed: %s", self.well_task_id, error)
        counts = None
        with session_scope(self.platform.audit) as s:
            done = affected(s.execute(update(WellTask).where(self._fenced(claim.attempts))
                                      .values(status=WellStatus.FAILED.value,
                                              finished_at=utcnow(), error=error[:4000])))
            if done == 1:
                counts = s.execute(update(Run).where(Run.id == claim.run_id)
                                   .values(wells_failed=Run.wells_failed + 1)
                                   .returning(Run.wells_done, Run.wells_failed,
                                              Run.wells_total)).one()
        if counts is not None:
            record_wells(self.platform, WellStatus.FAILED, worker=self.worker)
        self._after(claim.run_id, counts, True)

    def _mark_retry(self, claim: Claim, error: str) -> None:
        with session_scope(self.platform.audit) as s:
            s.execute(update(WellTask).where(self._fenced(claim.attempts))
                      .values(status=WellStatus.RETRY.value, error=error))

    def _after(self, run_id: int, counts: Any, dispatch_more: bool) -> None:
        if counts is not None and counts[0] + counts[1] >= counts[2]:
            finalize(self.platform, run_id)
        if dispatch_more:
            dispatch(self.platform)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
