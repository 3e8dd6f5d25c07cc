"""ops.flow (throughput, oldest waiting well, active runs) and ops.audit_search /
audit_users, driven directly against the store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from platequeue.ops import ActiveRun, AuditFilter, audit_search, audit_users, flow
from platequeue.platform import Platform
from platequeue.store import (
    AuditEvent,
    Run,
    User,
    WellTask,
    session_scope,
)
from tests.conftest import STORE_KINDS, migrated_platform

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=STORE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with migrated_platform(request.param, tmp_path, "pq_flow") as made:
        yield made


def _run(platform: Platform, who: str, status: str, created: datetime,
         wells: list[dict[str, object]], **values: object) -> int:
    with session_scope(platform.audit) as s:
        user = s.query(User).filter_by(omename=who).one_or_none()
        if user is None:
            user = User(omename=who, omero_user_id=len(who))
            s.add(user)
            s.flush()
        run = Run(user_id=user.id, plate_id=1, plate_name=f"{who} plate", pipeline_name="noop",
                  pipeline_version="1", pipeline_hash="h", queue="cpu", status=status,
                  created_at=created, wells_total=len(wells), **values)
        s.add(run)
        s.flush()
        for n, w in enumerate(wells):
            s.add(WellTask(run_id=run.id, user_id=user.id, well_id=n, row=0, column=n,
                           label=f"A{n + 1}", **w))
        return run.id


def test_flow_throughput_oldest_waiting_and_active_runs(platform: Platform) -> None:
    empty = flow(platform, NOW)
    assert (empty.ended_recently, empty.oldest, empty.active) == (0, None, ())
    recent, old = NOW - timedelta(minutes=3), NOW - timedelta(minutes=30)
    a = _run(platform, "demo", "running", NOW - timedelta(hours=1), [
        {"status": "succeeded", "finished_at": recent},
        {"status": "failed", "finished_at": recent},
        {"status": "succeeded", "finished_at": old},  # outside the window
        {"status": "queued", "dispatched_at": NOW - timedelta(minutes=5)},
    ], wells_done=2, wells_failed=1)
    b = _run(platform, "alice", "queued", NOW - timedelta(minutes=20), [
        {"status": "retry"},  # never dispatched: waiting since the run was created
    ])
    _run(platform, "bob", "cancelled", NOW - timedelta(days=1),  # not active: ignored
         [{"status": "queued", "dispatched_at": NOW - timedelta(days=1)}])
    got = flow(platform, NOW)
    assert got.ended_recently == 2 and got.minutes == 10 and got.wells_per_minute == 0.2
    assert got.oldest is not None
    assert (got.oldest.run_id, got.oldest.well, got.oldest.user) == (b, "A1", "alice")
    assert got.oldest.since == NOW - timedelta(minutes=20) and got.oldest.seconds == 1200.0
    assert got.active == (ActiveRun(a, "demo", "demo plate", "noop", "running", "cpu", 4, 3),
                          ActiveRun(b, "alice", "alice plate", "noop", "queued", "cpu", 1, 0))


def _events(platform: Platform) -> None:
    rows = [("session:demo", "submit", 1, datetime(2026, 5, 1, 9, 0, tzinfo=UTC)),
            ("token:demo", "cancel", 1, datetime(2026, 5, 2, 23, 59, tzinfo=UTC)),
            ("demo", "submit", 2, datetime(2026, 5, 3, 0, 0, tzinfo=UTC)),
            ("session:alice", "submit", 3, datetime(2026, 5, 3, 8, 0, tzinfo=UTC)),
            ("session:xademo", "submit", 4, datetime(2026, 5, 4, 8, 0, tzinfo=UTC)),
            ("beat", "sweep", None, datetime(2026, 5, 5, 8, 0, tzinfo=UTC))]
    with session_scope(platform.audit) as s:
        for actor, action, run_id, at in rows:
            s.add(AuditEvent(actor=actor, action=action, run_id=run_id, at=at, detail={"n": 1}))


def test_audit_search_filters_newest_first_and_pages(platform: Platform) -> None:
    _events(platform)
    found = audit_search(platform, AuditFilter(user="demo"))
    assert [r.actor for r in found.rows] == ["demo", "token:demo", "session:demo"]
    assert found.total == 3 and found.rows[0].detail == {"n": 1}
    assert found.rows[0].at == datetime(2026, 5, 3, 0, 0, tzinfo=UTC)
    # "_" is not a wildcard: "x_demo" does not match "session:xademo"
    assert audit_search(platform, AuditFilter(user="x_demo")).total == 0
    assert [r.run_id for r in audit_search(platform, AuditFilter(run_id=1)).rows] == [1, 1]
    assert [r.actor for r in audit_search(platform, AuditFilter(action="cancel")).rows] == [
        "token:demo"]
    days = audit_search(platform, AuditFilter(since=date(2026, 5, 2), until=date(2026, 5, 3)))
    assert [r.run_id for r in days.rows] == [3, 2, 1]  # whole UTC days, both ends included
    page = audit_search(platform, AuditFilter(), page=9, per_page=4)  # past the end: the last
    assert (page.page, page.total, len(page.rows)) == (2, 6, 2)
    assert [r.actor for r in page.rows] == ["token:demo", "session:demo"]


def test_audit_users_are_names_after_the_via(platform: Platform) -> None:
    assert audit_users(platform) == []
    _events(platform)
    assert audit_users(platform) == ["alice", "beat", "demo", "xademo"]
