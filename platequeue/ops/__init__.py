"""What operators run and read: the queue/worker/audit overview, the flow of work now
(throughput, oldest waiting well, active runs), the audit search, Prometheus metrics, and
beat's housekeeping (tokens, web sessions, OMERO session keep-alive).

Namespaces over private modules: ``ops.overview``, ``ops.metrics``, ``ops.maintenance``.
See ``docs/architecture.md``.
"""

from __future__ import annotations

from platequeue.ops import _maintenance as maintenance
from platequeue.ops import _metrics as metrics
from platequeue.ops import _overview as overview
from platequeue.ops._audit_search import AuditFilter, audit_search, audit_users
from platequeue.ops._flow import ActiveRun, Flow, Oldest, flow
from platequeue.ops._metrics import platform_registry, serve_worker
from platequeue.ops._overview import audit_actions, audit_page, queue_overview

__all__ = [
    "ActiveRun",
    "AuditFilter",
    "Flow",
    "Oldest",
    "audit_actions",
    "audit_page",
    "audit_search",
    "audit_users",
    "flow",
    "maintenance",
    "metrics",
    "overview",
    "platform_registry",
    "queue_overview",
    "serve_worker",
]
