"""Liveness of worker *processes*: each keeps a short-lived Redis key alive while it runs.

The key is named after the Celery node name (``cpu@host``), but its value identifies one
incarnation of that node: a random boot id drawn when the process starts, and the ids of
the tasks it is executing right now. A worker restarted under the same name announces a new
boot id, so it never vouches for the wells its dead predecessor had claimed (their rows
carry the old boot id), and a task the worker no longer runs (killed at the hard time
limit, cancelled on a broker connection loss) drops out of ``active`` although the process
lives on. The dispatcher reads the keys to route wells to ``gpu`` only when a GPU worker is
up; the sweeper reads them to tell a well whose owner is gone from one that is merely slow.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import redis

log = logging.getLogger(__name__)
PREFIX = "platequeue:worker:"

_boot: str | None = None


def incarnation() -> str:
    """This worker process's boot id, drawn once; pool children inherit it through fork."""
    global _boot
    if _boot is None:
        _boot = uuid.uuid4().hex
    return _boot


@dataclass(frozen=True)
class Owner:
    """What a live worker announced: its boot id and the task ids it is executing."""

    name: str
    boot: str | None
    active: frozenset[str]
    info: dict[str, Any]

    def runs(self, boot: str | None, task_id: str | None) -> bool:
        """Whether this incarnation vouches for a well claimed by (*boot*, *task_id*)."""
        return boot is not None and boot == self.boot and task_id in self.active


def announce(client: redis.Redis, hostname: str, info: dict[str, Any], ttl: int) -> None:
    client.set(PREFIX + hostname, json.dumps(info), ex=ttl)


def retire(client: redis.Redis, hostname: str, boot: str | None = None) -> None:
    """Remove the key (only if it is still this incarnation's when *boot* is given)."""
    if boot is None:
        client.delete(PREFIX + hostname)
        return
    raw = client.get(PREFIX + hostname)
    if raw is not None and json.loads(raw).get("boot") == boot:
        client.delete(PREFIX + hostname)


def alive(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """Hostname → announced info, for every worker whose key has not expired."""
    out: dict[str, dict[str, Any]] = {}
    for key in client.scan_iter(PREFIX + "*", count=200):
        raw = client.get(key)
        if raw is None:
            continue
        name = key.decode() if isinstance(key, bytes) else str(key)
        out[name.removeprefix(PREFIX)] = json.loads(raw)
    return out


def owners(client: redis.Redis) -> dict[str, Owner]:
    """Hostname → :class:`Owner`, for every live worker."""
    return {name: Owner(name, info.get("boot"), frozenset(info.get("active") or ()), info)
            for name, info in alive(client).items()}


def gpu_workers_up(client: redis.Redis) -> bool:
    try:
        return any("gpu" in info.get("queues", []) for info in alive(client).values())
    except redis.RedisError as exc:
        log.warning("cannot read worker registry: %s", exc)
        return False
