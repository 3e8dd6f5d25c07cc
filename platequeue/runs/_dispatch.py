"""Fair-share dispatcher: the only place that puts well tasks on the broker.

Rows are committed first (``dispatched_at`` stamped), messages are sent after commit. At most
``FAIR_SHARE_WELLS`` wells per user are in flight at a time, and the messages of different
users are interleaved round robin, so one 384-well submission doesn't starve everyone else.
A crash between commit and send leaves rows with an old ``dispatched_at`` and no message;
the sweeper clears the stamp and the next dispatch sends them again (a duplicate message is
harmless: the claim in :mod:`platequeue.runs._wellwork` lets only one delivery run).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from itertools import zip_longest

from sqlalchemy import ColumnElement, and_, func, select, text, update
from sqlalchemy.orm import Session

from platequeue.platform import Platform
from platequeue.queue import WELL_TASK
from platequeue.store import Run, RunStatus, WellStatus, WellTask, session_scope, utcnow

log = logging.getLogger(__name__)

PENDING = (WellStatus.QUEUED.value, WellStatus.RETRY.value)
_LOCK_KEY = 0x504C5155  # "PLQU": serialises dispatchers on PostgreSQL


def in_flight() -> ColumnElement[bool]:
    """Rows whose message has been sent and whose well has not ended."""
    return and_(WellTask.dispatched_at.is_not(None),
                WellTask.status.in_((*PENDING, WellStatus.RUNNING.value)))


def undispatched() -> ColumnElement[bool]:
    """Rows waiting for the dispatcher to send them."""
    return and_(WellTask.dispatched_at.is_(None), WellTask.status.in_(PENDING))


def refill_due(s: Session, user_id: int, limit: int) -> bool:
    """Whether a finished well should call :func:`dispatch`: only once the user's in-flight
    wells fell to half their share and something waits, so dispatch runs in batches."""
    n = s.scalar(select(func.count()).select_from(WellTask)
                 .where(WellTask.user_id == user_id, in_flight())) or 0
    if n > limit // 2:
        return False
    return s.scalar(select(WellTask.id).where(undispatched()).limit(1)) is not None


def dispatch(platform: Platform) -> int:
    """Release queued wells within each user's share; returns how many messages were sent."""
    limit = platform.settings.fair_share_wells
    to_send: list[tuple[int, str, str]] = []
    with session_scope(platform.audit) as s:
        if s.bind is not None and s.bind.dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        inflight = dict(
            s.execute(
                select(WellTask.user_id, func.count())
                .where(in_flight())
                .group_by(WellTask.user_id)
            ).all()
        )
        rank = func.row_number().over(partition_by=WellTask.user_id,
                                      order_by=(WellTask.run_id, WellTask.id)).label("rank")
        pending = (
            select(WellTask.id, WellTask.user_id, Run.queue, rank)
            .join(Run, Run.id == WellTask.run_id)
            .where(undispatched(),
                   Run.status.in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value)))
            .subquery()
        )
        rows = s.execute(
            select(pending.c.id, pending.c.user_id, pending.c.queue)
            .where(pending.c.rank <= limit).order_by(pending.c.user_id, pending.c.rank)
        ).all()
        per_user: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for well_task_id, user_id, queue in rows:
            if len(per_user[user_id]) < limit - inflight.get(user_id, 0):
                per_user[user_id].append((well_task_id, queue))
        now = utcnow()
        for batch in zip_longest(*per_user.values()):
            for item in batch:
                if item is None:
                    continue
                well_task_id, queue = item
                task_id = uuid.uuid4().hex
                s.execute(update(WellTask)
                          .where(and_(WellTask.id == well_task_id,
                                      WellTask.dispatched_at.is_(None)))
                          .values(dispatched_at=now, task_id=task_id))
                to_send.append((well_task_id, queue, task_id))
    for well_task_id, queue, task_id in to_send:
        platform.send(WELL_TASK, [well_task_id], queue, task_id)
    if to_send:
        log.info("dispatched %d well tasks", len(to_send))
    return len(to_send)
