"""Incremental runs on OME-Zarr plates (NGFF 0.4 and 0.5), with real workers: unchanged
wells are skipped; a well whose level-0 chunk was rewritten is computed again."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from platequeue import runs
from platequeue.store import WellTask, session_scope
from tests.conftest import Stack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.full_fixture]


def test_ngff_wells_skip_until_a_chunk_changes(stack: Stack) -> None:
    stack.env["QUOTA_CONCURRENT_RUNS"] = "8"
    platform = stack.platform()
    plates = {p.name: p for p in stack.manifest.plates}  # type: ignore[attr-defined]
    stack.start_worker()

    def run(name: str) -> runs.RunView:
        got = runs.submit(platform, omename="demo", plate_id=plates[name].id,
                          pipeline="nuclei-count", incremental=True)
        wait_for(lambda: runs.status(platform, got.run_id).status
                 in ("succeeded", "partial", "failed"), 300, f"run {got.run_id}")
        return runs.status(platform, got.run_id)

    names = ("zarr plate", "zarr 0.5 plate")
    first = {name: run(name) for name in names}
    for name, view in first.items():
        assert view.status == "succeeded" and view.wells_skipped == 0, name
        with session_scope(platform.audit) as s:
            fps = s.scalars(select(WellTask.input_fingerprint)
                            .where(WellTask.run_id == view.run_id)).all()
        assert all(fps) and len(set(fps)) == len(fps) == 4, name
    for name in names:
        again = run(name)
        assert again.wells_skipped == again.wells_done == 4, name  # nothing changed
    chunks = {"zarr plate": "0/0.0.0.0.0", "zarr 0.5 plate": "0/c/0/0/0/0/0"}
    for name in names:
        info = platform.catalog.pixels(plates[name].images["B2"][1])
        chunk = stack.settings.omero_data_dir / (info.ngff_path or "") / chunks[name]
        chunk.write_bytes(chunk.read_bytes())  # same bytes, new mtime: a rewritten chunk
        st = chunk.stat()
        os.utime(chunk, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        third = run(name)
        assert third.status == "succeeded", name
        assert third.wells_skipped == 3 and third.wells_done == 4, name
        with session_scope(platform.audit) as s:
            states = dict(s.execute(select(WellTask.label, WellTask.status)
                                    .where(WellTask.run_id == third.run_id)).all())
        assert states == {"A1": "skipped", "A2": "skipped", "B1": "skipped",
                          "B2": "succeeded"}, name
