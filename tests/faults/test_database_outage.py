"""PostgreSQL (a throwaway cluster) stopped for 30 s mid-run and started again."""

from __future__ import annotations

import os
import time

import pytest

from platequeue import runs
from tests.faults._support import Stall, assert_consistent, finished, plate, until, well
from tests.faults.conftest import FaultStack
from tests.faults.servers import ThrowawayPostgres
from workers.tasks import DB_RETRY_CAP

pytestmark = [pytest.mark.slow, pytest.mark.faults]
OUTAGE = 30.0
SLACK = 20.0


def test_postgres_down_for_30s(pg_fault_stack: tuple[FaultStack, ThrowawayPostgres]) -> None:
    stack, server = pg_fault_stack
    settings = stack.settings
    stack.worker(concurrency=2)
    platform = stack.platform()
    # an early well hangs, so many claims are still to come when the database goes away
    stall = Stall(stack, "A3")
    view = runs.submit(platform, omename="demo", plate_id=plate(stack).id,
                       pipeline="nuclei-count")
    until(lambda: well(stack, view.run_id, "A3").status == "running"
          and runs.status(platform, view.run_id).wells_done >= 3, 120, "A3 running")
    before = runs.status(platform, view.run_id)
    assert before.wells_done < before.wells_total - 1  # claims still to come in the outage
    server.stop("immediate")
    # A3's read ends (an empty read: its attempt fails) while the database is down, so
    # recording that attempt fails too; then the file comes back.
    fd = os.open(stall.path, os.O_WRONLY | os.O_NONBLOCK)
    os.close(fd)
    stall.release()
    time.sleep(OUTAGE)
    server.start()
    back_at = time.monotonic()
    ended_at = until(lambda: finished(stack, view.run_id), 240, "the run to end")
    assert runs.status(platform, view.run_id).status == "succeeded"
    assert_consistent(stack, view.run_id)
    logs = "".join(p.read_text(errors="replace") for p in stack.home.glob("worker-*.log"))
    assert "the audit store is unavailable" in logs  # claims did fail in the outage
    a3 = well(stack, view.run_id, "A3")
    assert a3.status == "succeeded" and a3.attempts >= 2
    # Messages whose claim failed were retried (back-off capped), not acked and burned;
    # A3's unrecorded attempt was taken over by its retried message or swept.
    bound = DB_RETRY_CAP + settings.worker_heartbeat_ttl + settings.sweep_interval + SLACK
    print(f"run ended {ended_at - back_at:.1f}s after PostgreSQL came back (bound {bound:.0f}s)")
    assert ended_at - back_at <= bound
