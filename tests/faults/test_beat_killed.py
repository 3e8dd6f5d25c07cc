"""beat SIGKILLed mid-run: runs still recover (every worker sweeps, beat does not), and
beat restarted with the same command and schedule file fires the due user schedule once."""

from __future__ import annotations

import time

import pytest

from platequeue import runs, schedules
from tests.faults._support import Stall, assert_consistent, finished, plate, until, well
from tests.faults.conftest import FaultStack
from tests.schedules._support import FAR_CRON, make_due, runs_of

pytestmark = [pytest.mark.slow, pytest.mark.faults]
SLACK = 15.0


def test_beat_killed_and_restarted(fault_stack: FaultStack) -> None:
    stack = fault_stack
    settings = stack.settings
    first = stack.worker(concurrency=2)
    old_boot = stack.boot_of()
    beat = stack.beat()
    platform = stack.platform()
    sch = schedules.create(platform, omename="demo", name="nightly", cron=FAR_CRON,
                           target_kind="plate", target_id=plate(stack).id, pipeline="noop")
    until(lambda: (stack.home / "celerybeat-schedule").exists()
          or any(stack.home.glob("celerybeat-schedule*")), 60, "beat to write its schedule")
    stall = Stall(stack, "A9")
    view = runs.submit(platform, omename="demo", plate_id=plate(stack).id,
                       pipeline="nuclei-count")
    until(lambda: well(stack, view.run_id, "A9").status == "running", 120, "A9 running")
    stack.sigkill(beat)  # beat stays down while the run recovers from a worker crash
    stack.sigkill(first)
    stall.release()
    stack.worker(concurrency=2, after_boot=old_boot)
    up_at = time.monotonic()
    released_at = until(lambda: well(stack, view.run_id, "A9").status != "running"
                        or well(stack, view.run_id, "A9").worker_boot != old_boot,
                        120, "A9 released without beat")
    until(lambda: finished(stack, view.run_id), 240, "the run to end without beat")
    assert runs.status(platform, view.run_id).status == "succeeded"
    assert_consistent(stack, view.run_id)
    bound = settings.worker_heartbeat_ttl + settings.sweep_interval + SLACK
    print(f"A9 released {released_at - up_at:.1f}s after the worker restart, beat down "
          f"(bound {bound:.0f}s)")
    assert released_at - up_at <= bound
    assert runs_of(platform, sch.id) == []  # nothing fires while beat is down
    make_due(platform, sch.id)
    restarted = stack.beat()  # `platequeue beat`: same schedule file, written by a SIGKILLed beat
    back_at = time.monotonic()
    fired_at = until(lambda: len(runs_of(platform, sch.id)) >= 1, 120, "the schedule to fire")
    fired = runs_of(platform, sch.id)[0]
    until(lambda: finished(stack, fired.id), 120, "the scheduled run to end")
    assert runs.status(platform, fired.id).status == "succeeded"
    time.sleep(2 * settings.schedule_tick_interval)
    assert len(runs_of(platform, sch.id)) == 1  # fired once
    assert restarted.poll() is None
    tick_bound = 30 + settings.schedule_tick_interval + SLACK  # beat start-up + one tick
    print(f"schedule fired {fired_at - back_at:.1f}s after beat restarted "
          f"(bound {tick_bound:.0f}s)")
    assert fired_at - back_at <= tick_bound
