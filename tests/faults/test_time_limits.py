"""A well that hangs: once where the soft limit can interrupt it (a blocked read), once
where it cannot (a process that no longer runs, as in uninterruptible sleep: SIGSTOP), so
the hard time limit kills it. Each fails after WELL_MAX_ATTEMPTS attempts, every attempt's
error naming the limit it hit, and the rest of the run is unharmed."""

from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy import select

from platequeue import runs
from platequeue.queue import soft_time_limit
from platequeue.store import WellTask, session_scope
from tests.faults._support import Stall, assert_consistent, finished, plate, well
from tests.faults.conftest import FaultStack

pytestmark = [pytest.mark.slow, pytest.mark.faults]
SLACK = 15.0


@pytest.mark.settings(TASK_TIME_LIMIT="10", WELL_MAX_ATTEMPTS="2")
def test_hung_wells_fail_after_max_attempts_naming_the_limit(fault_stack: FaultStack) -> None:
    stack = fault_stack
    settings = stack.settings
    limit, soft = settings.task_time_limit, soft_time_limit(settings)
    stack.worker(concurrency=2)
    platform = stack.platform()
    Stall(stack, "B3")  # the soft limit interrupts the blocked open()
    Stall(stack, "B7")  # and B7's process is stopped: only the hard limit ends it
    view = runs.submit(platform, omename="demo", plate_id=plate(stack).id,
                       pipeline="nuclei-count")
    stopped: dict[int, float] = {}  # attempt -> when it was seen running
    released: dict[int, float] = {}
    deadline = time.monotonic() + 240

    def note_released() -> None:
        b7 = well(stack, view.run_id, "B7")
        for attempt in stopped:
            if attempt not in released and (b7.attempts > attempt or b7.status != "running"):
                released[attempt] = time.monotonic()

    while not finished(stack, view.run_id):
        assert time.monotonic() < deadline, "the run did not end"
        b7 = well(stack, view.run_id, "B7")
        if b7.status == "running" and b7.attempts not in stopped and b7.worker_pid:
            os.kill(b7.worker_pid, signal.SIGSTOP)
            stopped[b7.attempts] = time.monotonic()
        note_released()
        time.sleep(0.1)
    note_released()  # B7 is the last well: its release and the run's end can be one poll
    assert runs.status(platform, view.run_id).status == "partial"
    assert_consistent(stack, view.run_id, failed={"B3", "B7"})
    with session_scope(platform.audit) as s:  # no healthy well was taken for a lost one
        others = s.execute(select(WellTask.label, WellTask.attempts).where(
            WellTask.run_id == view.run_id, WellTask.label.not_in(("B3", "B7")))).all()
    assert others and all(n == 1 for _label, n in others), others
    b3, b7 = well(stack, view.run_id, "B3"), well(stack, view.run_id, "B7")
    assert b3.attempts == b7.attempts == settings.well_max_attempts == 2
    assert f"soft time limit of {soft} s exceeded" in (b3.error or "")
    assert "after 2 attempts" in (b3.error or "")
    assert f"hard time limit of {limit} s (TASK_TIME_LIMIT) exceeded" in (b7.error or "")
    assert "gave up after 2 attempts" in (b7.error or "")
    logs = "".join(p.read_text(errors="replace") for p in stack.home.glob("worker-*.log"))
    assert f"attempt 1: hard time limit of {limit} s" in logs  # the first attempt, too
    assert f"will retry: soft time limit of {soft} s exceeded" in logs
    # each hard-limited attempt is recorded right after the kill (the sweeper being the
    # fallback: one heartbeat TTL and one sweep interval later)
    assert set(released) == {1, 2}
    bound = limit + settings.worker_heartbeat_ttl + settings.sweep_interval + SLACK
    took = {a: round(released[a] - stopped[a], 1) for a in released}
    print(f"hard-limited attempts recorded after {took}s (bound {bound:.0f}s)")
    assert all(t <= bound for t in took.values())
