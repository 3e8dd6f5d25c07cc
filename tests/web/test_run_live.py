"""Every page and JSON endpoint that a browser polls while a run is in progress answers 200,
on both stacks (``platequeue up``'s SQLite + embedded Redis, and PostgreSQL + Redis), while
a real worker processes the 384-well fixture plate. SQLite hands back naive datetimes and
PostgreSQL aware ones (until the store's UTC column type made every one aware): mid-run is
where mixing them turned the run page and its progress.json into a 500."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from platequeue.runs import RunView
from tests.web.pages_fixtures import Web, submit
from tests.web.stacks import any_stack, any_web
from web.pages_runs import progress

__all__ = ["any_stack", "any_web"]


def _view(started_at: str | None, done: int, total: int = 100) -> RunView:
    return RunView(run_id=1, status="running", user="demo", plate_id=1, plate_name="p",
                   pipeline="nuclei-count", pipeline_version="1", pipeline_hash="h",
                   params={}, queue="cpu", wells_total=total, wells_done=done,
                   wells_failed=0, wells_running=2, created_at=started_at or "",
                   started_at=started_at, finished_at=None)


def test_progress_mid_run_eta_and_elapsed() -> None:
    started = datetime.now(UTC) - timedelta(seconds=40)
    p = progress(_view(started.isoformat(), done=20))
    assert p["eta_seconds"] is not None and 150 < p["eta_seconds"] < 170  # 40 s per 20 wells
    assert p["elapsed_seconds"] is not None and 39 < p["elapsed_seconds"] < 45
    assert p["started_at"].endswith("Z") and p["can_cancel"] and not p["can_rerun"]


@pytest.mark.slow
@pytest.mark.full_fixture
@pytest.mark.timeout(1500)
def test_every_polled_page_answers_200_during_a_384_well_run(any_web: Web) -> None:
    stack = any_web.stack
    plate = next(p for p in stack.manifest.plates  # type: ignore[attr-defined]
                 if p.name == "384 plate with gaps")
    run_id = submit(any_web.platform, "demo", plate.id)
    client = any_web.client("demo")
    # progress.json last: a run never leaves a terminal state by itself, so when it says
    # "not over", every page fetched before it saw the run unfinished too.
    paths = [f"/runs/{run_id}", "/runs", f"/runs/{run_id}/results",
             f"/runs/{run_id}/results?feature=mean_area", "/api/runs", f"/api/runs/{run_id}",
             f"/api/runs/{run_id}/wells", f"/api/runs/{run_id}/results?format=json",
             f"/runs/{run_id}/progress.json"]
    stack.start_worker(concurrency=2)
    mid_run: list[dict[str, object]] = []
    partial_notes = 0
    deadline = time.monotonic() + 1200
    while True:
        pages = {}
        for path in paths:
            res = client.get(path, headers={"Accept": "text/html,application/json"})
            assert res.status_code == 200, (path, res.status_code,
                                            res.get_data(as_text=True)[:800])
            pages[path] = res
        p = pages[f"/runs/{run_id}/progress.json"].get_json()["progress"]
        if not p["terminal"] and 0 < p["ended"] < p["total"]:
            mid_run.append(p)
            if "Partial results" in pages[f"/runs/{run_id}/results"].get_data(as_text=True):
                partial_notes += 1
        if p["terminal"]:
            break
        assert time.monotonic() < deadline, f"run {run_id} did not end: {p}"
        time.sleep(0.5)
    assert p["status"] == "succeeded" and p["done"] == p["total"] == len(plate.wells)
    assert len(mid_run) >= 2, "no poll caught the run in progress"
    for seen in mid_run:  # the run page's numbers mid-run: an ETA, counts that add up
        assert isinstance(seen["eta_seconds"], float) and seen["eta_seconds"] >= 0
        counts = seen["counts"]
        assert isinstance(counts, dict) and sum(counts.values()) == seen["total"]
    assert partial_notes == len(mid_run)
