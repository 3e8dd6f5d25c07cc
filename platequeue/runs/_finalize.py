"""Finalisation: the one place a run leaves ``queued``/``running`` for a final state.

Claimed exactly once (``finalized`` is flipped in the same UPDATE that checks every well
has ended), audited, then the write-back task is queued on ``maint``
(:mod:`platequeue.runs._writeback_job`). Called by the well command after the last well,
by incremental submission when every well was skipped, and by the sweeper.
"""

from __future__ import annotations

import logging

from sqlalchemy import update

from platequeue.platform import Platform
from platequeue.queue import WRITEBACK_TASK, Queue
from platequeue.store import Run, RunStatus, audit, session_scope, utcnow

log = logging.getLogger(__name__)


def finalize(platform: Platform, run_id: int) -> str | None:
    """Claim finalisation exactly once when every well has ended; returns the final status."""
    with session_scope(platform.audit) as s:
        got = s.execute(
            update(Run)
            .where(Run.id == run_id, Run.finalized.is_(False),
                   Run.wells_done + Run.wells_failed >= Run.wells_total,
                   Run.status.in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value)))
            .values(finalized=True, finished_at=utcnow())
            .returning(Run.wells_done, Run.wells_failed, Run.wells_total)).first()
        if got is None:
            return None
        done, failed, _total = got
        final = (RunStatus.SUCCEEDED if failed == 0 else
                 RunStatus.FAILED if done == 0 else RunStatus.PARTIAL)
        s.execute(update(Run).where(Run.id == run_id).values(status=final.value))
        audit(s, "platequeue", "finish", run_id, status=final.value, wells_done=done,
              wells_failed=failed)
    log.info("run %d finished: %s", run_id, final.value)
    platform.send(WRITEBACK_TASK, [run_id], Queue.MAINT.value)
    return final.value
