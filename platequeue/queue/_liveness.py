"""Liveness of workers: each worker keeps a short-lived Redis key alive while it runs.

The dispatcher reads it to route wells to ``gpu`` only when a GPU worker is up; the sweeper
reads it to tell a well running on a dead worker from one that is merely slow.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

log = logging.getLogger(__name__)
PREFIX = "platequeue:worker:"


def announce(client: redis.Redis, hostname: str, info: dict[str, Any], ttl: int) -> None:
    client.set(PREFIX + hostname, json.dumps(info), ex=ttl)


def retire(client: redis.Redis, hostname: str) -> None:
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


def gpu_workers_up(client: redis.Redis) -> bool:
    try:
        return any("gpu" in info.get("queues", []) for info in alive(client).values())
    except redis.RedisError as exc:
        log.warning("cannot read worker registry: %s", exc)
        return False
