"""Incremental reprocessing: unchanged wells are skipped (measurements copied), a well whose
pixel file changed is computed again."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from platequeue import runs
from platequeue.omero import romio_path
from platequeue.store import WellTask, session_scope
from tests.conftest import Stack, wait_for

pytestmark = pytest.mark.slow


def _finished(stack: Stack, run_id: int) -> runs.RunView:
    platform = stack.platform()
    wait_for(lambda: runs.status(platform, run_id).status in ("succeeded", "partial", "failed"),
             180, f"run {run_id}")
    return runs.status(platform, run_id)


def _by_well(stack: Stack, run_id: int) -> dict[tuple[str, int], float]:
    _cols, rows = runs.results(stack.platform(), run_id)
    return {(r["well"], r["field"]): r["count"] for r in rows}


def test_unchanged_wells_skip_and_a_changed_file_is_recomputed(stack: Stack) -> None:
    platform = stack.platform()
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    n = len(plate.wells)
    stack.start_worker(concurrency=2)
    first = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="nuclei-count",
                        incremental=True)  # nothing to reuse yet
    assert first.wells_skipped == 0
    assert _finished(stack, first.run_id).status == "succeeded"
    with session_scope(platform.audit) as s:
        fps = s.scalars(select(WellTask.input_fingerprint)
                        .where(WellTask.run_id == first.run_id)).all()
    assert len(fps) == n and all(fps) and len(set(fps)) == n

    again = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="nuclei-count",
                        incremental=True)
    assert again.status == "succeeded"  # every well skipped: finished at submission
    assert again.wells_skipped == again.wells_done == n
    assert _by_well(stack, again.run_id) == _by_well(stack, first.run_id)

    full = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="nuclei-count")
    assert full.wells_skipped == 0  # not incremental: computes everything
    # Let it end before a file changes: a well of it that read the changed file would
    # rightly be reused (its fingerprint is taken before its read), and skip that well too.
    assert _finished(stack, full.run_id).status == "succeeded"

    well = platform.catalog.wells(plate.id)[0]
    ref = well.fields[0]
    path = romio_path(platform.settings.omero_data_dir, ref.pixels_id)
    path.write_bytes(np.zeros(path.stat().st_size, dtype=np.uint8).tobytes())  # blank field
    third = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="nuclei-count",
                        incremental=True)
    assert third.wells_skipped == n - 1
    done = _finished(stack, third.run_id)
    assert done.status == "succeeded" and done.wells_done == n
    before, after = _by_well(stack, first.run_id), _by_well(stack, third.run_id)
    assert after[(well.label, ref.field)] == 0 != before[(well.label, ref.field)]
    assert {k: v for k, v in after.items() if k[0] != well.label} == \
        {k: v for k, v in before.items() if k[0] != well.label}
    with session_scope(platform.audit) as s:
        states = dict(s.execute(select(WellTask.well_id, WellTask.status)
                                .where(WellTask.run_id == third.run_id)).all())
    assert states[well.id] == "succeeded"
    assert sorted(set(states.values())) == ["skipped", "succeeded"]
    res = stack.cli("status", str(third.run_id), "--json", check=True)
    assert f'"wells_skipped": {n - 1}' in res.stdout
