"""End to end on real PostgreSQL, real Redis and real Celery worker processes."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from platequeue import runs
from platequeue.store import AuditEvent, Measurement, Run, WellTask, session_scope
from tests.conftest import Stack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.full_fixture]
TERMINAL = ("succeeded", "partial", "failed", "cancelled")


def _plate(stack: Stack):  # type: ignore[no-untyped-def]
    return stack.manifest.plates[0]  # type: ignore[attr-defined]


def _check_counts(stack: Stack, run_id: int) -> None:
    truth = _plate(stack)
    res = stack.cli("results", str(run_id), "--format", "csv", check=True)
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == len(truth.wells) * truth.fields
    assert {"plate_id", "well", "row", "column", "field", "image_id", "count"} <= set(rows[0])
    for row in rows:
        assert float(row["count"]) == truth.count(row["well"], int(row["field"])), row


def _each_well_once(stack: Stack, run_id: int) -> None:
    platform = stack.platform()
    with session_scope(platform.audit) as s:
        per_key = s.execute(
            select(Measurement.well_id, Measurement.field, Measurement.feature, func.count())
            .where(Measurement.run_id == run_id)
            .group_by(Measurement.well_id, Measurement.field, Measurement.feature)).all()
        assert per_key and all(n == 1 for *_k, n in per_key)
        statuses = s.scalars(select(WellTask.status).where(WellTask.run_id == run_id)).all()
        assert set(statuses) == {"succeeded"}
        run = s.get(Run, run_id)
        assert run is not None and run.wells_done == run.wells_total == len(statuses)
        finishes = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.run_id == run_id, AuditEvent.action == "finish"))
        assert finishes == 1


def test_demo_plate_end_to_end(stack: Stack) -> None:
    stack.start_worker()
    plate = _plate(stack)
    res = stack.cli("submit", "--user", "demo", "--plate", str(plate.id),
                    "--pipeline", "nuclei-count", "--wait", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "succeeded"
    assert out["wells_total"] == out["wells_done"] == len(plate.wells)
    assert out["wells_failed"] == 0
    _check_counts(stack, out["run_id"])
    _each_well_once(stack, out["run_id"])
    with session_scope(stack.platform().audit) as s:
        wt = s.scalars(select(WellTask).where(WellTask.run_id == out["run_id"])).first()
        assert wt is not None and wt.bytes_read and wt.device == "cpu" and wt.worker


def test_worker_killed_mid_run_loses_nothing(stack: Stack) -> None:
    worker = stack.start_worker(concurrency=1)
    stack.start_beat()
    platform = stack.platform()
    view = runs.submit(platform, omename="demo", plate_id=_plate(stack).id,
                       pipeline="nuclei-count")
    wait_for(lambda: runs.status(platform, view.run_id).wells_done >= 5, 120, "5 wells")
    stack.kill(worker)  # SIGKILL the main process and its pool child
    assert runs.status(platform, view.run_id).status == "running"
    stack.start_worker(concurrency=2)
    wait_for(lambda: runs.status(platform, view.run_id).status in TERMINAL, 240, "run end")
    assert runs.status(platform, view.run_id).status == "succeeded"
    _each_well_once(stack, view.run_id)
    _check_counts(stack, view.run_id)


def _corrupt_first_plane(stack: Stack, pixels_id: int) -> tuple[str, bytes]:
    from platequeue.omero import romio_path

    path = romio_path(stack.settings.omero_data_dir, pixels_id)
    original = path.read_bytes()
    pattern = bytes([0x80, 0x7F] * 32)
    plane = 256 * 256 * 2
    path.write_bytes(pattern + bytes(plane - len(pattern)) + original[plane:])
    return str(path), original


def test_corrupt_well_fails_alone_then_rerun_completes(stack: Stack) -> None:
    platform = stack.platform()
    plate = _plate(stack)
    image_id = plate.images["B3"][1]
    pixels = platform.catalog.pixels(image_id)
    path, original = _corrupt_first_plane(stack, pixels.id)
    stack.start_worker()
    res = stack.cli("submit", "--user", "demo", "--plate", str(plate.id),
                    "--pipeline", "nuclei-count", "--wait", "--json")
    assert res.returncode == 1
    out = json.loads(res.stdout)
    assert out["status"] == "partial" and out["wells_failed"] == 1
    assert out["wells_done"] == len(plate.wells) - 1
    with session_scope(platform.audit) as s:
        bad = s.scalars(select(WellTask).where(WellTask.run_id == out["run_id"],
                                               WellTask.status == "failed")).one()
        assert bad.label == "B3"
        assert bad.error and str(image_id) in bad.error and "plane" in bad.error
        assert bad.attempts == 1  # corrupt data is not retried
    with open(path, "wb") as fh:
        fh.write(original)
    assert stack.cli("rerun-failed", str(out["run_id"])).returncode == 0
    wait_for(lambda: runs.status(platform, out["run_id"]).status in TERMINAL, 120, "rerun")
    assert runs.status(platform, out["run_id"]).status == "succeeded"
    _check_counts(stack, out["run_id"])


def test_cancel_mid_run_starts_nothing_after(stack: Stack) -> None:
    platform = stack.platform()
    stack.start_worker(concurrency=1)
    view = runs.submit(platform, omename="demo", plate_id=_plate(stack).id,
                       pipeline="nuclei-count")
    wait_for(lambda: runs.status(platform, view.run_id).wells_done >= 3, 120, "3 wells")
    res = stack.cli("cancel", str(view.run_id))
    assert res.returncode == 0, res.stderr
    acknowledged = datetime.now(UTC)
    time.sleep(4)  # anything that would still start would do so now
    with session_scope(platform.audit) as s:
        wells = s.scalars(select(WellTask).where(WellTask.run_id == view.run_id)).all()
    started_after = [w.label for w in wells if w.started_at is not None
                     and w.started_at.astimezone(UTC) > acknowledged]
    assert started_after == []
    assert {w.status for w in wells} <= {"succeeded", "cancelled", "running"}
    assert sum(w.status == "cancelled" for w in wells) > 40
    assert runs.status(platform, view.run_id).status == "cancelled"
    assert stack.cli("cancel", str(view.run_id)).returncode == 1  # already cancelled: 409


def test_transient_errors_retry_with_backoff_then_cap(stack: Stack) -> None:
    from platequeue.omero import romio_path

    platform = stack.platform()
    plate = _plate(stack)
    paths = {}
    for label in ("B3", "C4"):  # an unreadable file (a directory in its place): an OSError
        pixels = platform.catalog.pixels(plate.images[label][0])
        path = romio_path(stack.settings.omero_data_dir, pixels.id)
        path.rename(path.with_suffix(".bak"))
        path.mkdir()
        paths[label] = path
    stack.start_worker()
    view = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="nuclei-count")

    def attempts(label: str) -> int:
        with session_scope(platform.audit) as s:
            return s.scalar(select(WellTask.attempts).where(
                WellTask.run_id == view.run_id, WellTask.label == label)) or 0

    wait_for(lambda: attempts("B3") >= 2, 120, "a second attempt at B3")
    paths["B3"].rmdir()
    paths["B3"].with_suffix(".bak").rename(paths["B3"])  # the mount came back
    wait_for(lambda: runs.status(platform, view.run_id).status in TERMINAL, 180, "run end")
    with session_scope(platform.audit) as s:
        wells = {w.label: w for w in s.scalars(select(WellTask).where(
            WellTask.run_id == view.run_id, WellTask.label.in_(("B3", "C4"))))}
    assert wells["B3"].status == "succeeded" and wells["B3"].attempts in (2, 3)
    assert wells["C4"].status == "failed" and wells["C4"].attempts == 3
    assert "IsADirectoryError" in (wells["C4"].error or "")
    assert "after 3 attempts" in (wells["C4"].error or "")
    final = runs.status(platform, view.run_id)
    assert final.status == "partial" and final.wells_failed == 1
