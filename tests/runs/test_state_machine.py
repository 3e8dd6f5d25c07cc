"""The run state machine, driven directly (no workers): claim, fence, retry, take-over,
finalise exactly once, and the sweeper's repairs, on SQLite and on PostgreSQL, with the
liveness keys and broker state in a real Redis db."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select, update

from platequeue.platform import Platform
from platequeue.queue import WELL_TASK, WRITEBACK_TASK
from platequeue.queue import liveness as workers_registry
from platequeue.runs import Claim, WellCommand, dispatch, finalize
from platequeue.runs import _sweeper as sweeper
from platequeue.settings import load_settings
from platequeue.store import (
    AuditEvent,
    Base,
    Measurement,
    Run,
    User,
    WellTask,
    dispose_all,
    engine_for,
    session_scope,
    utcnow,
)
from platequeue.testing import temporary_database

WORKER = "cpu@host"


@dataclass
class RecordingPlatform(Platform):
    """The real platform, except that messages are recorded instead of published."""

    sent: list[tuple[str, list[Any], str, str | None]] = field(default_factory=list)

    def send(self, name: str, args: list[Any], queue: str, task_id: str | None = None) -> str:
        self.sent.append((name, args, queue, task_id))
        return task_id or "t"

    def wells_sent(self) -> list[int]:
        return [int(a[0]) for n, a, _q, _t in self.sent if n == WELL_TASK]


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(request: pytest.FixtureRequest, tmp_path: Path,
             redis_url: str) -> Iterator[RecordingPlatform]:
    with temporary_database(request.param, tmp_path, "pq_sm") as url:
        Base.metadata.create_all(engine_for(url))  # the migrations: tests/test_migrations.py
        settings = load_settings({
            "APP_ENV": "test", "PLATEQUEUE_HOME": str(tmp_path), "DATABASE_URL": url,
            "REDIS_URL": redis_url, "OMERO_DB_URL": f"sqlite:///{tmp_path / 'omero.db'}",
            "WORKER_HEARTBEAT_TTL": "3", "SWEEP_INTERVAL": "1", "WELL_MAX_ATTEMPTS": "3",
            "REQUEUE_AFTER": "30", "TASK_TIME_LIMIT": "60"})
        yield RecordingPlatform(settings)
        dispose_all()


def make_run(platform: Platform, wells: int = 2) -> tuple[int, list[int]]:
    with session_scope(platform.audit) as s:
        user = User(omename="demo", omero_user_id=2)
        s.add(user)
        s.flush()
        run = Run(user_id=user.id, plate_id=1, plate_name="p", pipeline_name="noop",
                  pipeline_version="1", pipeline_hash="h", wells_total=wells)
        s.add(run)
        s.flush()
        rows = [WellTask(run_id=run.id, user_id=user.id, well_id=100 + i, row=0, column=i,
                         label=f"A{i + 1}") for i in range(wells)]
        s.add_all(rows)
        s.flush()
        return run.id, [r.id for r in rows]


def row(platform: Platform, wt_id: int) -> WellTask:
    with session_scope(platform.audit) as s:
        found = s.get(WellTask, wt_id)
        assert found is not None
        return found


def run_of(platform: Platform, run_id: int) -> Run:
    with session_scope(platform.audit) as s:
        found = s.get(Run, run_id)
        assert found is not None
        return found


def cmd(platform: Platform, wt_id: int, *, boot: str = "b1", task: str = "t1",
        worker: str = WORKER) -> WellCommand:
    return WellCommand(platform, wt_id, worker=worker, boot=boot, task_id=task)


def age(platform: Platform, wt_id: int, seconds: float, column: str = "started_at") -> None:
    with session_scope(platform.audit) as s:
        s.execute(update(WellTask).where(WellTask.id == wt_id)
                  .values({column: utcnow() - timedelta(seconds=seconds)}))


def features(claim: Claim) -> list[dict[str, Any]]:
    return [{"field": 0, "image_id": 5, "features": {"count": 3.0}}]


STATS = {"read_seconds": 0.0, "compute_seconds": 0.0, "bytes_read": 1, "fields": 1,
         "input_fingerprint": None}


def test_claim_once_and_fence_by_attempt(platform: RecordingPlatform) -> None:
    run_id, (a, _b) = make_run(platform)
    first = cmd(platform, a)._claim()
    assert first is not None and first.attempts == 1 and first.run_id == run_id
    r = row(platform, a)
    assert (r.status, r.worker, r.worker_boot, r.task_id) == ("running", WORKER, "b1", "t1")
    assert cmd(platform, a, boot="b2", task="t2")._claim() is None  # duplicate delivery
    assert run_of(platform, run_id).status == "running"
    stale = Claim(**{**first.__dict__, "attempts": 0})
    assert cmd(platform, a)._succeed(stale, features(first), STATS) == "skipped"
    assert run_of(platform, run_id).wells_done == 0
    assert cmd(platform, a)._succeed(first, features(first), STATS) == "succeeded"
    assert cmd(platform, a)._succeed(first, features(first), STATS) == "skipped"  # twice
    assert run_of(platform, run_id).wells_done == 1
    with session_scope(platform.audit) as s:
        assert s.scalar(select(func.count()).select_from(Measurement)) == 1


def test_claim_refused_for_cancelled_run(platform: RecordingPlatform) -> None:
    run_id, (a, _b) = make_run(platform)
    with session_scope(platform.audit) as s:
        s.execute(update(Run).where(Run.id == run_id).values(status="cancelled"))
    assert cmd(platform, a)._claim() is None
    assert row(platform, a).status == "queued"


def test_retry_then_claim_again(platform: RecordingPlatform) -> None:
    _run_id, (a, _b) = make_run(platform)
    first = cmd(platform, a)._claim()
    assert first is not None
    cmd(platform, a)._mark_retry(first, "OSError: gone (attempt 1)")
    assert row(platform, a).status == "retry"
    again = cmd(platform, a, task="t1")._claim()
    assert again is not None and again.attempts == 2 and row(platform, a).error is None


def test_take_over_only_same_incarnation_same_message(platform: RecordingPlatform) -> None:
    _run_id, (a, _b) = make_run(platform)
    assert cmd(platform, a)._claim() is not None
    assert cmd(platform, a, boot="b2")._claim() is None  # a restarted worker: no
    assert cmd(platform, a, task="other")._claim() is None  # another message: no
    assert cmd(platform, a, worker="gpu0@host")._claim() is None
    taken = cmd(platform, a)._claim()  # the same message again (bookkeeping failed)
    assert taken is not None and taken.attempts == 2


def test_finalise_exactly_once(platform: RecordingPlatform) -> None:
    run_id, (a, b) = make_run(platform)
    for wt in (a, b):
        claim = cmd(platform, wt)._claim()
        assert claim is not None
        cmd(platform, wt)._succeed(claim, features(claim), STATS)
    r = run_of(platform, run_id)
    assert r.finalized and r.status == "succeeded"
    assert finalize(platform, run_id) is None
    assert [n for n, *_ in platform.sent].count(WRITEBACK_TASK) == 1
    with session_scope(platform.audit) as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "finish", AuditEvent.run_id == run_id)) == 1


def announce(platform: Platform, boot: str, active: list[str], name: str = WORKER) -> None:
    workers_registry.announce(platform.redis, name, {"queues": ["cpu"], "boot": boot,
                                                     "active": active}, ttl=30)


@pytest.mark.parametrize("liveness", ["none", "restarted", "not-active"])
def test_sweep_requeues_well_without_live_owner(platform: RecordingPlatform,
                                                liveness: str) -> None:
    _run_id, (a, _b) = make_run(platform)
    assert cmd(platform, a)._claim() is not None
    age(platform, a, 10)
    if liveness == "restarted":
        announce(platform, "b2", [])  # same name, new incarnation
    elif liveness == "not-active":
        announce(platform, "b1", ["t-something-else"])
    report = sweeper.sweep(platform)
    assert report["orphans_requeued"] == 1
    r = row(platform, a)
    assert r.status == "retry" and "(attempt 1)" in (r.error or "")
    assert a in platform.wells_sent()  # dispatched again at once


def test_sweep_leaves_vouched_and_fresh_wells(platform: RecordingPlatform) -> None:
    _run_id, (a, b) = make_run(platform)
    assert cmd(platform, a)._claim() is not None
    assert cmd(platform, b, task="t2")._claim() is not None
    age(platform, a, 10)  # a: old, and its owner lists it; b: claimed a moment ago
    announce(platform, "b1", ["t1"])
    assert sweeper.sweep(platform)["orphans_requeued"] == 0
    assert row(platform, a).status == row(platform, b).status == "running"


def test_sweep_names_hard_limit_and_gives_up_after_max_attempts(
        platform: RecordingPlatform) -> None:
    run_id, (a, b) = make_run(platform)
    with session_scope(platform.audit) as s:
        s.execute(update(WellTask).where(WellTask.id == a).values(attempts=2))
    assert cmd(platform, a)._claim() is not None  # attempt 3 of 3
    age(platform, a, 60)
    announce(platform, "b1", [])  # alive, but the task is gone after the whole limit
    report = sweeper.sweep(platform)
    assert report["orphans_failed"] == 1
    r = row(platform, a)
    assert r.status == "failed"
    assert r.error == ("hard time limit of 60 s (TASK_TIME_LIMIT) exceeded; "
                       "gave up after 3 attempts")
    assert run_of(platform, run_id).wells_failed == 1
    claim = cmd(platform, b)._claim()
    assert claim is not None
    cmd(platform, b)._succeed(claim, features(claim), STATS)
    assert run_of(platform, run_id).status == "partial"


def test_release_task_after_hard_limit(platform: RecordingPlatform) -> None:
    _run_id, (a, _b) = make_run(platform)
    assert cmd(platform, a)._claim() is not None
    why = sweeper.hard_limit_error(platform.settings)
    assert sweeper.release_task(platform, a, "not-this-task", why) is None
    assert sweeper.release_task(platform, a, "t1", why) == "retry"
    assert row(platform, a).error == f"{why} (attempt 1)"
    assert a in platform.wells_sent()


def _kombu_message(task_id: str) -> str:
    return json.dumps({"body": "", "headers": {"id": task_id, "task": WELL_TASK},
                       "properties": {}, "content-type": "application/json"})


def test_sweep_resends_only_messages_the_broker_lost(platform: RecordingPlatform) -> None:
    _run_id, wells = make_run(platform, wells=4)
    assert dispatch(platform) == 4
    ids = {int(a[0]): t for _n, a, _q, t in platform.sent}
    waiting, held_new, held_old, lost = wells
    client: redis.Redis = platform.redis
    client.lpush("cpu", _kombu_message(str(ids[waiting])))  # deep in a queue
    now = utcnow().timestamp()
    for tag, wt, taken in (("d1", held_new, now - 5), ("d2", held_old, now - 120)):
        client.hset("unacked", tag, json.dumps([json.loads(_kombu_message(str(ids[wt]))),
                                                "", "cpu"]))
        client.zadd("unacked_index", {tag: taken})
    for wt in wells:
        age(platform, wt, 3600, "dispatched_at")  # all dispatched an hour ago
    platform.sent.clear()
    report = sweeper.sweep(platform)
    assert report["lost_messages"] == 2
    assert sorted(platform.wells_sent()) == sorted([held_old, lost])


def test_sweep_completes_missed_finalisation(platform: RecordingPlatform) -> None:
    run_id, _wells = make_run(platform)
    with session_scope(platform.audit) as s:  # every well ended; finalisation never fired
        s.execute(update(WellTask).values(status="succeeded"))
        s.execute(update(Run).where(Run.id == run_id).values(wells_done=2, status="running"))
    assert sweeper.sweep(platform)["finalized"] == 1
    assert run_of(platform, run_id).status == "succeeded"
    assert sweeper.sweep(platform)["finalized"] == 0


def test_one_sweep_per_interval_across_processes(platform: RecordingPlatform) -> None:
    assert sweeper.sweep_if_due(platform, "cpu@a/1") is not None
    assert sweeper.sweep_if_due(platform, "gpu0@a/2") is None
