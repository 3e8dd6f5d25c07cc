"""Schedules: cron/zone validation, DST, firing once (threads and two real beat processes),
missed firings once, refusals audited, version-change and screen targets."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from platequeue import schedules
from platequeue.errors import Forbidden, Invalid
from platequeue.store import Run, Schedule, session_scope, utcnow
from tests.conftest import Stack, wait_for
from tests.schedules._support import FAR_CRON, audits, make_due, runs_of


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_next_fire_is_dst_correct() -> None:
    # Europe/Berlin springs forward at 02:00 on 2026-03-29: 02:30 does not exist that day
    # and fires right after the jump (03:30 CEST = 01:30 UTC).
    assert schedules.next_fire("30 2 * * *", "Europe/Berlin", _utc(2026, 3, 28, 23)) == \
        _utc(2026, 3, 29, 1, 30)
    # It falls back at 03:00 on 2026-10-25: 02:30 happens twice and fires once.
    first = schedules.next_fire("30 2 * * *", "Europe/Berlin", _utc(2026, 10, 24, 22))
    assert first == _utc(2026, 10, 25, 0, 30)
    assert schedules.next_fire("30 2 * * *", "Europe/Berlin", first) == _utc(2026, 10, 26, 1, 30)
    # 09:00 in New York is 13:00 UTC in summer and 14:00 UTC in winter.
    assert schedules.next_fire("0 9 * * *", "America/New_York", _utc(2026, 7, 1)) == \
        _utc(2026, 7, 1, 13)
    assert schedules.next_fire("0 9 * * *", "America/New_York", _utc(2026, 12, 1)) == \
        _utc(2026, 12, 1, 14)


@pytest.mark.parametrize("cron", ["61 * * * *", "* * * *", "0 0 * * * *", "daily"])
def test_bad_cron_is_refused(cron: str) -> None:
    with pytest.raises(Invalid, match="cron"):
        schedules.validate_cron(cron)


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_cron_for_a_day_that_never_comes_is_refused(cron: str) -> None:
    with pytest.raises(Invalid, match="never fires"):
        schedules.next_fire(cron, "UTC", _utc(2026, 1, 1))


def test_bad_zone_is_refused() -> None:
    with pytest.raises(Invalid, match="Mars/Olympus"):
        schedules.zone("Mars/Olympus")


def _create(stack: Stack, **kw: object) -> schedules.ScheduleView:
    platform = stack.platform()
    args: dict[str, object] = dict(omename="demo", name="nightly", cron=FAR_CRON,
                                   timezone="Europe/Berlin", target_kind="plate",
                                   target_id=stack.manifest.plates[0].id,  # type: ignore[attr-defined]
                                   pipeline="noop")
    args.update(kw)
    return schedules.create(platform, **args)  # type: ignore[arg-type]


def test_create_validates_and_lists(stack: Stack) -> None:
    platform = stack.platform()
    view = _create(stack)
    assert view.owner == "demo" and view.enabled and view.next_fire_at.startswith("20")
    assert [v.id for v in schedules.list_schedules(platform, omename="demo")] == [view.id]
    assert schedules.list_schedules(platform, omename="alice") == []
    with pytest.raises(Invalid):
        _create(stack, pipeline="no-such-pipeline")
    with pytest.raises(Invalid):
        _create(stack, target_kind="dataset")
    with pytest.raises(Forbidden):
        _create(stack, group_id=3)  # demo is no admin
    paused = schedules.set_enabled(platform, view.id, False, omename="demo")
    assert not paused.enabled
    schedules.delete(platform, view.id, omename="demo")
    assert schedules.list_schedules(platform) == []


def test_missed_firings_fire_once_and_advance(stack: Stack) -> None:
    platform = stack.platform()
    view = _create(stack, cron="* * * * *")
    make_due(platform, view.id, timedelta(hours=5))  # 300 missed minutes
    assert schedules.tick(platform)["cron"] == 1
    assert schedules.tick(platform)["cron"] == 0
    fired = runs_of(platform, view.id)
    assert len(fired) == 1 and fired[0].status == "queued"  # no worker: queued, not lost
    after = schedules.get(platform, view.id)
    assert datetime.fromisoformat(after.next_fire_at) > utcnow()
    assert after.last_run_id == fired[0].id
    assert len(audits(platform, "schedule-fire", view.id)) == 1


def test_concurrent_ticks_fire_each_schedule_once(stack: Stack) -> None:
    platform = stack.platform()
    ids = [_create(stack, name=f"s{i}").id for i in range(4)]
    for sid in ids:
        make_due(platform, sid)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def tick() -> None:
        barrier.wait()
        try:
            schedules.tick(platform)
        except Exception as exc:  # noqa: BLE001 - collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert [len(runs_of(platform, sid)) for sid in ids] == [1, 1, 1, 1]


def test_refused_firing_is_audited_and_advanced(stack: Stack) -> None:
    platform = stack.platform()
    view = _create(stack)
    with session_scope(platform.audit) as s:  # the plate disappeared from OMERO
        s.execute(update(Schedule).where(Schedule.id == view.id).values(target_id=987654))
    make_due(platform, view.id)
    schedules.tick(platform)
    refused = audits(platform, "schedule-refused", view.id)
    assert len(refused) == 1 and "987654" in refused[0].detail["error"]
    assert runs_of(platform, view.id) == []
    assert datetime.fromisoformat(schedules.get(platform, view.id).next_fire_at) > utcnow()


def test_pipeline_version_change_fires_once(stack: Stack) -> None:
    platform = stack.platform()
    view = _create(stack, on_pipeline_version_change=True)
    assert schedules.tick(platform) == {"cron": 0, "version": 0}  # never ran: nothing
    make_due(platform, view.id)
    schedules.tick(platform)
    first = runs_of(platform, view.id)
    assert len(first) == 1
    assert schedules.tick(platform) == {"cron": 0, "version": 0}  # same hash
    with session_scope(platform.audit) as s:  # the run was made by an older pipeline version
        s.execute(update(Run).where(Run.id == first[0].id).values(pipeline_hash="0" * 64))
    assert schedules.tick(platform) == {"cron": 0, "version": 1}
    assert schedules.tick(platform) == {"cron": 0, "version": 0}
    assert len(runs_of(platform, view.id)) == 2
    assert audits(platform, "schedule-fire", view.id)[-1].detail["reason"] == \
        "pipeline-version-change"


def test_screen_new_since_last_fires_only_new_plates(stack: Stack) -> None:
    platform = stack.platform()
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    screen_id = platform.catalog.plate(plate.id).screen_id
    assert screen_id is not None
    view = _create(stack, target_kind="screen_new_since_last", target_id=screen_id)
    make_due(platform, view.id)
    schedules.tick(platform)
    assert [r.plate_id for r in runs_of(platform, view.id)] == [plate.id]
    make_due(platform, view.id)
    schedules.tick(platform)
    assert len(runs_of(platform, view.id)) == 1  # nothing new on the screen
    assert audits(platform, "schedule-fire", view.id)[-1].detail["runs"] == []


@pytest.mark.slow
def test_two_real_beats_fire_once_per_due_time(stack: Stack) -> None:
    """Two `celery beat` processes tick every second; two workers run the ticks at once."""
    stack.env.update(SCHEDULE_TICK_INTERVAL="1", QUOTA_CONCURRENT_RUNS="50",
                     QUOTA_SUBMISSIONS_PER_MINUTE="50")  # runs pile up: no cpu worker here
    platform = stack.platform()
    ids = [_create(stack, name=f"b{i}").id for i in range(3)]
    for n in range(2):
        stack.start("beat", "--schedule", str(stack.home / f"beat-{n}"), "--loglevel", "INFO",
                    name=f"beat{n}")
    stack.start_worker(concurrency=2, queues="maint")
    stack.start_worker(concurrency=2, queues="maint")
    for round_ in (1, 2):
        for sid in ids:
            make_due(platform, sid)
        wait_for(lambda r=round_: all(len(runs_of(platform, sid)) >= r for sid in ids), 90,
                 f"round {round_} of firings")
        time.sleep(4)  # ~8 more ticks from the two beats: none may fire again
        assert [len(runs_of(platform, sid)) for sid in ids] == [round_] * 3
        assert [len(audits(platform, "schedule-fire", sid)) for sid in ids] == [round_] * 3
    for n in range(2):  # both beats really were sending ticks
        logs = "".join(p.read_text() for p in stack.home.glob(f"beat{n}-*.log"))
        assert logs.count("Sending due task schedules") >= 4


@pytest.mark.slow
def test_firing_during_worker_outage_is_not_lost(stack: Stack) -> None:
    stack.env["SCHEDULE_TICK_INTERVAL"] = "1"
    platform = stack.platform()
    view = _create(stack)
    stack.start_beat()
    make_due(platform, view.id)
    time.sleep(3)  # beat ticks; no worker takes them
    assert runs_of(platform, view.id) == []
    stack.start_worker(concurrency=2)
    wait_for(lambda: len(runs_of(platform, view.id)) == 1, 60, "the firing after recovery")
    run_id = runs_of(platform, view.id)[0].id
    wait_for(lambda: runs_of(platform, view.id)[0].status == "succeeded", 120, "the run")
    time.sleep(2)
    assert [r.id for r in runs_of(platform, view.id)] == [run_id]
