"""runs.well_states: the wells of one run in plate order, every column the pages and the
API show, errors unfiltered (callers filter them), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from platequeue.platform import Platform
from platequeue.runs import WellState, well_states
from platequeue.store import Run, User, WellTask, session_scope
from tests.conftest import STORE_KINDS, migrated_platform


@pytest.fixture(params=STORE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with migrated_platform(request.param, tmp_path, "pq_wells") as made:
        yield made


def _run(platform: Platform, wells: list[tuple[int, int, str, dict[str, object]]]) -> int:
    with session_scope(platform.audit) as s:
        user = s.query(User).filter_by(omename="demo").one_or_none()
        if user is None:
            user = User(omename="demo", omero_user_id=2)
            s.add(user)
            s.flush()
        run = Run(user_id=user.id, plate_id=1, plate_name="p", pipeline_name="noop",
                  pipeline_version="1", pipeline_hash="h", queue="cpu", status="running")
        s.add(run)
        s.flush()
        for n, (row, column, label, values) in enumerate(wells):
            s.add(WellTask(run_id=run.id, user_id=user.id, well_id=100 + n, row=row,
                           column=column, label=label, **values))
        return run.id


def test_wells_in_plate_order_with_every_column(platform: Platform) -> None:
    run_id = _run(platform, [
        (1, 0, "B1", {"status": "failed", "attempts": 3, "error": "Traceback: secret path",
                      "worker": "cpu@h", "device": "cpu"}),
        (0, 1, "A2", {"status": "queued"}),
        (0, 0, "A1", {"status": "succeeded", "attempts": 1, "worker": "gpu@h",
                      "device": "cuda:0"}),
    ])
    other = _run(platform, [(0, 0, "A1", {"status": "running"})])
    assert well_states(platform, run_id) == [
        WellState("A1", 0, 0, "succeeded", 1, None, "cuda:0", "gpu@h"),
        WellState("A2", 0, 1, "queued", 0, None, None, None),
        WellState("B1", 1, 0, "failed", 3, "Traceback: secret path", "cpu", "cpu@h"),
    ]
    assert [w.status for w in well_states(platform, other)] == ["running"]
    assert well_states(platform, other + 1000) == []
