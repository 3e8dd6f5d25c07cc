"""What every fault test asserts, and how it makes a well hang."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from platequeue.store import AuditEvent, Measurement, Run, WellTask, session_scope
from tests.faults.conftest import FaultStack

TERMINAL = ("succeeded", "partial", "failed", "cancelled")


def plate(stack: FaultStack) -> Any:
    return stack.manifest.plates[0]  # type: ignore[attr-defined]


def until(predicate: Callable[[], Any], timeout: float, what: str,
          interval: float = 0.1) -> float:
    """Poll until *predicate* is true; returns the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return time.monotonic()
        except Exception:  # noqa: BLE001  (a server the test stopped: poll again)
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def well(stack: FaultStack, run_id: int, label: str) -> WellTask:
    with session_scope(stack.platform().audit) as s:
        return s.scalars(select(WellTask).where(WellTask.run_id == run_id,
                                                WellTask.label == label)).one()


def run_row(stack: FaultStack, run_id: int) -> Run:
    with session_scope(stack.platform().audit) as s:
        found = s.get(Run, run_id)
        assert found is not None
        return found


def finished(stack: FaultStack, run_id: int) -> bool:
    return run_row(stack, run_id).status in TERMINAL


class Stall:
    """Make a well's read hang: its first field's ``Pixels/<id>`` file becomes a FIFO with
    no writer, so ``open()`` blocks, as on a stuck mount. :meth:`release` puts it back
    (a process already blocked stays blocked until it is killed)."""

    def __init__(self, stack: FaultStack, label: str) -> None:
        from platequeue.omero import romio_path

        platform = stack.platform()
        pixels = platform.catalog.pixels(plate(stack).images[label][0])
        self.path: Path = romio_path(stack.settings.omero_data_dir, pixels.id)
        self.path.rename(self.path.with_suffix(".stalled"))
        os.mkfifo(self.path)

    def release(self) -> None:
        if self.path.exists() and not self.path.is_file():
            self.path.unlink()
            self.path.with_suffix(".stalled").rename(self.path)


def assert_consistent(stack: FaultStack, run_id: int, *, failed: set[str] | None = None) -> None:
    """Run ended; each well ended once; counters equal the well rows; measurements unique
    per key and equal to the ground truth for every well that succeeded."""
    failed = failed or set()
    truth = plate(stack)
    with session_scope(stack.platform().audit) as s:
        run = s.get(Run, run_id)
        assert run is not None and run.status in TERMINAL and run.finalized
        wells = list(s.scalars(select(WellTask).where(WellTask.run_id == run_id)))
        assert len(wells) == run.wells_total == len(truth.wells)
        by_status = {w.label: w.status for w in wells}
        assert {lbl for lbl, st in by_status.items() if st == "failed"} == failed, by_status
        assert {st for lbl, st in by_status.items() if lbl not in failed} == {"succeeded"}
        assert run.wells_done == sum(st == "succeeded" for st in by_status.values())
        assert run.wells_failed == len(failed)
        per_key = s.execute(
            select(Measurement.well_id, Measurement.field, Measurement.feature, func.count())
            .where(Measurement.run_id == run_id)
            .group_by(Measurement.well_id, Measurement.field, Measurement.feature)).all()
        assert per_key and all(n == 1 for *_k, n in per_key), "duplicated measurements"
        counts = {(wid, fld): None for wid, fld, *_ in per_key}
        label_of = {w.well_id: w.label for w in wells}
        assert {label_of[wid] for wid, _f in counts} == set(truth.wells) - failed
        rows = s.execute(select(Measurement.well_id, Measurement.field, Measurement.value)
                         .where(Measurement.run_id == run_id,
                                Measurement.feature == "count")).all()
        assert len(rows) == (len(truth.wells) - len(failed)) * truth.fields
        for wid, fld, value in rows:
            assert value == truth.count(label_of[wid], fld), (label_of[wid], fld, value)
        finishes = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.run_id == run_id, AuditEvent.action == "finish"))
        assert finishes == 1
