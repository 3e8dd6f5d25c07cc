"""Fair share on real PostgreSQL: at most FAIR_SHARE_WELLS in flight per user, interleaved."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from platequeue import runs
from platequeue.platform import Platform, set_platform
from platequeue.runs import dispatch
from platequeue.settings import load_settings
from platequeue.store import WellTask, session_scope
from tests.conftest import Stack


class RecordingPlatform(Platform):
    """Sends nothing to the broker; records what the dispatcher would send, in order."""

    sent: list[int]

    def send(self, name: str, args: list[Any], queue: str, task_id: str | None = None) -> str:
        self.sent.append(int(args[0]))
        return task_id or ""


def test_fair_share_caps_and_interleaves_users(stack: Stack) -> None:
    platform = RecordingPlatform(load_settings({**stack.env, "FAIR_SHARE_WELLS": "4"}))
    platform.sent = []
    set_platform(platform)
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    a = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="noop")
    assert len(platform.sent) == 4  # the first submission fills demo's share only
    b = runs.submit(platform, omename="alice", plate_id=plate.id, pipeline="noop")
    assert len(platform.sent) == 8
    assert dispatch(platform) == 0  # both shares full: nothing more goes out

    with session_scope(platform.audit) as s:
        owner = {w.id: w.run_id for w in s.query(WellTask)}
        # two of demo's wells finish: exactly two more of demo's are released
        s.execute(update(WellTask).where(WellTask.id.in_(platform.sent[:2]))
                  .values(status="succeeded"))
    sent_before = len(platform.sent)
    assert dispatch(platform) == 2
    released = platform.sent[sent_before:]
    assert all(owner[i] == a.run_id for i in released)
    assert [owner[i] for i in platform.sent[:4]] == [a.run_id] * 4
    assert [owner[i] for i in platform.sent[4:8]] == [b.run_id] * 4


def test_dispatch_interleaves_waiting_users(stack: Stack) -> None:
    platform = RecordingPlatform(load_settings({**stack.env, "FAIR_SHARE_WELLS": "3"}))
    platform.sent = []
    set_platform(platform)
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    a = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="noop")
    b = runs.submit(platform, omename="alice", plate_id=plate.id, pipeline="noop")
    with session_scope(platform.audit) as s:
        s.execute(update(WellTask).values(dispatched_at=None, task_id=None))
    platform.sent.clear()
    assert dispatch(platform) == 6
    with session_scope(platform.audit) as s:
        owner = {w.id: w.run_id for w in s.query(WellTask)}
    assert [owner[i] for i in platform.sent] == [a.run_id, b.run_id] * 3
