"""SIGKILL of the CPU worker, restarted under the same name (as systemd restarts it)."""

from __future__ import annotations

import time

import pytest

from platequeue import runs
from tests.faults._support import Stall, assert_consistent, finished, plate, until, well
from tests.faults.conftest import FaultStack

pytestmark = [pytest.mark.slow, pytest.mark.faults]
SLACK = 15.0  # process scheduling on a loaded 2-core machine


def test_sigkilled_worker_restarted_under_same_name(fault_stack: FaultStack) -> None:
    stack = fault_stack
    settings = stack.settings
    first = stack.worker(concurrency=2)
    old_boot = stack.boot_of()
    platform = stack.platform()
    stall = Stall(stack, "B2")  # B2's read hangs: it is surely running when the worker dies
    view = runs.submit(platform, omename="demo", plate_id=plate(stack).id,
                       pipeline="nuclei-count")
    until(lambda: well(stack, view.run_id, "B2").status == "running", 120, "B2 running")
    hung = well(stack, view.run_id, "B2")
    assert hung.worker_boot == old_boot and (hung.worker or "").startswith("cpu@")
    killed_at = time.monotonic()
    stack.sigkill(first)
    stall.release()
    stack.worker(concurrency=2, after_boot=old_boot)  # same command, same name cpu@<host>
    up_at = time.monotonic()
    assert stack.boot_of() != old_boot
    released_at = until(lambda: well(stack, view.run_id, "B2").attempts > hung.attempts
                        or well(stack, view.run_id, "B2").status != "running",
                        120, "B2 released from the dead incarnation")
    until(lambda: finished(stack, view.run_id), 240, "the run to end")
    assert runs.status(platform, view.run_id).status == "succeeded"
    assert_consistent(stack, view.run_id)
    b2 = well(stack, view.run_id, "B2")
    assert b2.status == "succeeded" and b2.worker_boot != old_boot
    # The restarted worker's first sweep returns the well: one heartbeat TTL (the grace a
    # fresh claim gets) plus one sweep interval after it came up, at most.
    bound = settings.worker_heartbeat_ttl + settings.sweep_interval + SLACK
    print(f"recovery: {released_at - killed_at:.1f}s after the kill, "
          f"{released_at - up_at:.1f}s after the restart (bound {bound:.0f}s)")
    assert released_at - up_at <= bound
