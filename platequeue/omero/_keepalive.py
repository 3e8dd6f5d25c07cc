"""OMERO sessions that runs depend on: where they are kept, and the server calls.

A run may carry an OMERO session key (the user's, joined from OMERO.web, or one the platform
opened): it lives in Redis under ``platequeue:omero-session:<run_id>`` (never in the audit
store), as JSON ``{"key": …, "opened_by_platform": …}`` with a time-to-live that the
keep-alive renews while the run is active. The server side is the thin
:class:`SessionServer` protocol; :class:`BlitzSessionServer` implements it with omero-py
(imported lazily, optional extra) and :func:`server_for` gives None when ``OMERO_HOST`` is
unset, so nothing is sent to any server then. Tests inject a recording double, since no
OMERO server runs here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Protocol

import redis

from platequeue.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "platequeue:omero-session:"


@dataclass(frozen=True)
class RunSession:
    run_id: int
    key: str
    opened_by_platform: bool


class SessionServer(Protocol):
    def keep_alive(self, session_key: str) -> bool:
        """Refresh the session on the server; False when the server no longer knows it."""

    def close(self, session_key: str) -> None:
        """End a session the platform opened."""


class BlitzSessionServer:
    """omero-py: join with ``connect(sUuid=…)``; detach with ``close(hard=False)``."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def _join(self, session_key: str) -> object | None:
        from omero.gateway import BlitzGateway  # optional extra

        conn = BlitzGateway(host=self.host, port=self.port)
        return conn if conn.connect(sUuid=session_key) else None

    def keep_alive(self, session_key: str) -> bool:
        conn = self._join(session_key)
        if conn is None:
            return False
        try:
            conn.keepAlive()  # type: ignore[attr-defined]
            return True
        finally:
            conn.close(hard=False)  # type: ignore[attr-defined]  # never kill a user's session

    def close(self, session_key: str) -> None:
        conn = self._join(session_key)
        if conn is not None:
            conn.close(hard=True)  # type: ignore[attr-defined]


def server_for(settings: Settings) -> SessionServer | None:
    """The OMERO server of the settings, or None without ``OMERO_HOST``."""
    if settings.omero_host is None:
        return None
    return BlitzSessionServer(settings.omero_host, settings.omero_port)


def attach(r: redis.Redis, run_id: int, key: str, *, ttl: int,
           opened_by_platform: bool = False) -> None:
    if not key or not key.strip():
        raise ValueError("empty OMERO session key")
    r.set(PREFIX + str(int(run_id)),
          json.dumps({"key": key.strip(), "opened_by_platform": opened_by_platform}), ex=ttl)


def tracked(r: redis.Redis) -> list[RunSession]:
    """Every run session in Redis (malformed entries are skipped and logged)."""
    out: list[RunSession] = []
    for raw_key in r.scan_iter(match=PREFIX + "*", count=500):
        name = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        raw = r.get(raw_key)
        if raw is None:  # expired meanwhile
            continue
        try:
            run_id = int(name.removeprefix(PREFIX))
            data = json.loads(raw)
            key, opened = str(data["key"]), bool(data.get("opened_by_platform"))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignoring malformed OMERO session entry %s", name)
            continue
        if key:
            out.append(RunSession(run_id, key, opened))
    return out


def renew(r: redis.Redis, run_id: int, ttl: int) -> None:
    r.expire(PREFIX + str(run_id), ttl)


def forget(r: redis.Redis, run_id: int) -> None:
    r.delete(PREFIX + str(run_id))


def lookup(r: redis.Redis, run_id: int) -> RunSession | None:
    """The OMERO session a run carries, or None (never attached, expired or malformed)."""
    raw = r.get(PREFIX + str(int(run_id)))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        key, opened = str(data["key"]), bool(data.get("opened_by_platform"))
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("ignoring malformed OMERO session entry for run %s", run_id)
        return None
    return RunSession(int(run_id), key, opened) if key else None
