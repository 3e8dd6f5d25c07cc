"""What the broker holds right now: which well-task messages wait, and which a worker took.

Kombu's Redis transport keeps a queue as Redis lists (one per priority step) and the
messages workers have taken but not yet acknowledged in the ``unacked`` hash, with the time
each was taken in the ``unacked_index`` sorted set. The sweeper compares this with the rows:
a row waiting for a message that is in neither place (Redis lost it, a claim failure burned
it, a crash came between commit and send) gets a new one; a message that waits in a queue
is never re-sent however long the queue is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from platequeue.queue._names import QUEUES

PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"


@dataclass
class BrokerView:
    waiting: set[str] = field(default_factory=set)
    """Task ids of messages in a queue, not yet taken by any worker."""
    held: dict[str, float] = field(default_factory=dict)
    """Task id → epoch seconds from which its worker could start it (taken, or its ETA)."""

    def knows(self, task_id: str | None) -> bool:
        return task_id is not None and (task_id in self.waiting or task_id in self.held)


def _task_id(raw: Any) -> tuple[str | None, float | None]:
    msg = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
    headers = msg.get("headers") or {}
    task_id = headers.get("id")
    eta = headers.get("eta")
    eta_s = None
    if eta:
        try:
            eta_s = datetime.fromisoformat(str(eta)).timestamp()
        except ValueError:
            eta_s = None
    return (str(task_id) if task_id else None), eta_s


def read(client: redis.Redis) -> BrokerView:
    """One consistent-enough snapshot (a message moving from a queue to ``unacked`` in the
    middle may be missed: the worst outcome is one harmless duplicate message)."""
    view = BrokerView()
    pipe = client.pipeline(transaction=False)
    for q in QUEUES:
        for step in PRIORITY_STEPS:
            pipe.lrange(q if step == 0 else f"{q}{PRIORITY_SEP}{step}", 0, -1)
    pipe.hgetall(UNACKED)
    pipe.zrange(UNACKED_INDEX, 0, -1, withscores=True)
    *lists, unacked, index = pipe.execute()
    for items in lists:
        for raw in items:
            task_id, _eta = _task_id(raw)
            if task_id:
                view.waiting.add(task_id)
    taken = {(k.decode() if isinstance(k, bytes) else str(k)): float(v) for k, v in index}
    for tag, raw in unacked.items():
        tag_s = tag.decode() if isinstance(tag, bytes) else str(tag)
        payload = json.loads(raw)
        task_id, eta = _task_id(payload[0])
        if task_id:
            since = taken.get(tag_s, 0.0)
            view.held[task_id] = max(since, eta or 0.0)
    return view
