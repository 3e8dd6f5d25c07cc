"""Redis killed and restarted, with AOF on (the broker's data survives) and off (every
queued message, unacked message and liveness key is gone)."""

from __future__ import annotations

import time

import pytest

from platequeue import runs
from tests.faults._support import Stall, assert_consistent, finished, plate, until, well
from tests.faults.conftest import FaultStack
from tests.faults.servers import ThrowawayRedis

pytestmark = [pytest.mark.slow, pytest.mark.faults]
RECONNECT = 10.0  # kombu's reconnection back-off (2 s steps) after a short outage
SLACK = 15.0


def test_redis_killed_and_restarted(
        redis_fault_stack: tuple[FaultStack, ThrowawayRedis]) -> None:
    stack, server = redis_fault_stack
    settings = stack.settings
    stack.worker(concurrency=2)
    platform = stack.platform()
    stall = Stall(stack, "B5")  # running, hung, when the broker goes away
    view = runs.submit(platform, omename="demo", plate_id=plate(stack).id,
                       pipeline="nuclei-count")
    until(lambda: well(stack, view.run_id, "B5").status == "running"
          and runs.status(platform, view.run_id).wells_done >= 3, 120, "B5 running")
    hung = well(stack, view.run_id, "B5")
    server.kill()
    stall.release()
    time.sleep(2)
    server.start()  # same port, same directory
    back_at = time.monotonic()
    released_at = until(lambda: well(stack, view.run_id, "B5").attempts > hung.attempts
                        or well(stack, view.run_id, "B5").status != "running",
                        120, "B5 released after the connection loss")
    ended_at = until(lambda: finished(stack, view.run_id), 240, "the run to end")
    assert runs.status(platform, view.run_id).status == "succeeded"
    assert_consistent(stack, view.run_id)
    # The worker cancels its running wells when the connection drops; its next heartbeat
    # no longer lists them and the next sweep sends them again.
    bound = RECONNECT + settings.worker_heartbeat_ttl + settings.sweep_interval + SLACK
    print(f"aof={server.aof}: B5 released {released_at - back_at:.1f}s after Redis came back "
          f"(bound {bound:.0f}s); run ended {ended_at - back_at:.1f}s after")
    assert released_at - back_at <= bound
    # Messages lost with the data (no AOF) were found missing and sent again, not after
    # REQUEUE_AFTER counted from their dispatch.
    assert ended_at - back_at <= bound + 60
