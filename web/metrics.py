"""``GET /metrics``: the platform's Prometheus metrics (:mod:`platequeue.ops.metrics`).

Counts only, no names or ids of users' data; restrict it to the scraper at the proxy.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from platequeue.ops import platform_registry
from web.auth import platform

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Any:
    registry = current_app.extensions.get("metrics_registry")
    if registry is None:
        registry = current_app.extensions["metrics_registry"] = platform_registry(platform())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
