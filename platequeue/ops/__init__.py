"""What operators run and read: the queue/worker/audit overview, Prometheus metrics, and
beat's housekeeping (tokens, web sessions, OMERO session keep-alive).

Namespaces over private modules: ``ops.overview``, ``ops.metrics``, ``ops.maintenance``.
See ``docs/architecture.md``.
"""

from __future__ import annotations

from platequeue.ops import _maintenance as maintenance
from platequeue.ops import _metrics as metrics
from platequeue.ops import _overview as overview
from platequeue.ops._metrics import platform_registry, serve_worker
from platequeue.ops._overview import audit_actions, audit_page, queue_overview

__all__ = [
    "audit_actions",
    "audit_page",
    "maintenance",
    "metrics",
    "overview",
    "platform_registry",
    "queue_overview",
    "serve_worker",
]
