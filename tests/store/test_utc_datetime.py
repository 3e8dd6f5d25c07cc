"""UTCDateTime: stored in UTC, read back timezone-aware, on SQLite and PostgreSQL alike.

The regression it guards: on SQLite a run's ``started_at`` came back naive, so the ETA of
a run in progress subtracted a naive from an aware datetime (TypeError), and the run page
and ``progress.json`` answered 500 until the run ended.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from platequeue import runs
from platequeue.platform import Platform
from platequeue.store import Run, User, session_scope, utcnow
from tests.conftest import STORE_KINDS, migrated_platform
from web.pages_runs import progress


@pytest.fixture(params=STORE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with migrated_platform(request.param, tmp_path, "pq_utc") as made:
        yield made


def _run(platform: Platform, started_at: datetime | None, **values: object) -> int:
    with session_scope(platform.audit) as s:
        user = User(omename="demo", omero_user_id=2)
        s.add(user)
        s.flush()
        run = Run(user_id=user.id, plate_id=1, plate_name="p", pipeline_name="noop",
                  pipeline_version="1", pipeline_hash="h", queue="cpu", status="running",
                  started_at=started_at, **values)
        s.add(run)
        s.flush()
        return run.id


def test_values_come_back_aware_and_in_utc(platform: Platform) -> None:
    plus_two = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    run_id = _run(platform, plus_two, finished_at=datetime(2026, 3, 1, 11, 0, 0))  # naive: UTC
    with session_scope(platform.audit) as s:
        run = s.get(Run, run_id)
        assert run is not None
        started, finished, created = run.started_at, run.finished_at, run.created_at
    assert started == datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
    assert started is not None and started.utcoffset() == timedelta(0)
    assert finished == datetime(2026, 3, 1, 11, 0, 0, tzinfo=UTC)
    assert created.tzinfo is not None and abs(utcnow() - created) < timedelta(minutes=5)
    with platform.audit.connect() as conn:  # Core selects are typed too
        raw = conn.execute(select(Run.started_at).where(Run.id == run_id)).scalar_one()
    assert raw == started and raw.tzinfo is not None
    with session_scope(platform.audit) as s:  # comparisons bind in UTC as well
        hit = s.scalar(select(Run.id).where(Run.started_at < plus_two + timedelta(seconds=1),
                                            Run.started_at > plus_two - timedelta(seconds=1)))
    assert hit == run_id


def test_eta_of_a_run_in_progress(platform: Platform) -> None:
    run_id = _run(platform, utcnow() - timedelta(seconds=60), wells_total=4, wells_done=1)
    view = runs.status(platform, run_id)
    assert view.started_at is not None
    started = datetime.fromisoformat(view.started_at)
    assert started.tzinfo is not None
    eta = runs.eta_seconds(started, 1, 4)
    assert eta is not None and 120 <= eta <= 400  # 60 s for one well, three to go
    shown = progress(view)  # what the run page and progress.json answer
    assert shown["eta_seconds"] is not None and shown["eta_seconds"] > 0
    assert shown["terminal"] is False
