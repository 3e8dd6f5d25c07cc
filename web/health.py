"""Liveness and readiness (as the Omero_GU seed recommends)."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, jsonify

from platequeue import store
from web.auth import platform

bp = Blueprint("health", __name__)


@bp.route("/health")
def health() -> Any:
    return jsonify(status="ok")


@bp.route("/ready")
def ready() -> Any:
    p = platform()
    checks: dict[str, str] = {}
    for name, probe in (("redis", lambda: p.redis.ping()),
                        ("audit_db", lambda: store.ping(p.audit)),
                        ("omero_db", lambda: store.ping(p.omero))):
        try:
            probe()
            checks[name] = "ok"
        except (redis.RedisError, store.StoreError, OSError) as exc:
            checks[name] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503

