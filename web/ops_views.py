"""What the operator pages add to :mod:`platequeue.ops.overview`: throughput, the oldest
waiting well and the active runs (:func:`platequeue.ops.flow`), an audit search by user,
run, action and date (:func:`platequeue.ops.audit_search`; the query arguments are parsed
here), and whether a Flower link would lead anywhere."""

from __future__ import annotations

import socket
import time
from datetime import date
from typing import Any

from platequeue.ops import AuditFilter, audit_search, audit_users, flow
from platequeue.platform import Platform

__all__ = ["AuditFilter", "audit_search", "audit_users", "flow", "flower_url", "parse_filter"]


def parse_filter(args: Any) -> tuple[AuditFilter, list[str]]:
    """The audit filter from query arguments, and a message per argument it refused."""
    errors: list[str] = []

    def day(name: str) -> date | None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors.append(f"{name} date {raw!r} is not YYYY-MM-DD")
            return None

    run_raw = (args.get("run") or "").strip()
    run_id = None
    if run_raw:
        if run_raw.isdigit() and len(run_raw) < 10:
            run_id = int(run_raw)
        else:
            errors.append(f"run {run_raw!r} is not a run number")
    found = AuditFilter(user=(args.get("user") or "").strip()[:255], run_id=run_id,
                        action=(args.get("action") or "").strip()[:64],
                        since=day("from"), until=day("to"))
    return found, errors


_probe: dict[tuple[str, int], tuple[float, bool]] = {}


def _listening(host: str, port: int, ttl: float = 15.0) -> bool:
    """Whether something accepts TCP connections there (remembered for *ttl* seconds)."""
    key = (host, port)
    hit = _probe.get(key)
    if hit is not None and time.monotonic() - hit[0] < ttl:
        return hit[1]
    try:
        with socket.create_connection(key, timeout=0.3):
            ok = True
    except OSError:
        ok = False
    _probe[key] = (time.monotonic(), ok)
    return ok


def flower_url(platform: Platform, headers: Any, host: str, scheme: str) -> str | None:
    """Where Flower is for this browser, or None when no Flower runs.

    Behind the reverse proxy (a request carrying ``X-Forwarded-For``), the proxy serves
    Flower at ``/<prefix>/``. Served directly (``platequeue up``, a development server),
    Flower is the ``platequeue flower`` process on this host: linked on its own port when
    it listens, otherwise hidden."""
    prefix = platform.settings.flower_url_prefix
    if headers.get("X-Forwarded-For") or headers.get("X-Real-IP"):
        return f"/{prefix}/"
    port = platform.settings.flower_port
    if not _listening("127.0.0.1", port):
        return None
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return f"{scheme}://{hostname}:{port}/{prefix}/"
