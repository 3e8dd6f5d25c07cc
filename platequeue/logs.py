"""Logging set-up: one call per process; JSON lines when LOG_JSON is on (production).

Context (run id, well, user) rides on every record logged inside :func:`log_context`, from
any module: the handler's :class:`ContextFilter` copies it onto the record (JSON keys, or
`` [run_id=… well=… user=…]`` after a text line).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from platequeue.settings import Settings

_CONTEXT_KEYS = ("run_id", "well", "user", "task_id")
_context: ContextVar[Mapping[str, Any]] = ContextVar("platequeue_log_context",
                                                    default=MappingProxyType({}))


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Attach ``values`` (``run_id``, ``well``, ``user``, ``task_id``) to the records within."""
    token = _context.set({**_context.get(), **{k: v for k, v in values.items()
                                                  if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current log context onto each record; ``record.ctx`` is the text form."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _context.get()
        for key, value in ctx.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        found = [(k, getattr(record, k)) for k in _CONTEXT_KEYS if hasattr(record, k)]
        record.ctx = (" [" + " ".join(f"{k}={v}" for k, v in found) + "]") if found else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
               "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        for key in _CONTEXT_KEYS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(settings: Settings) -> None:
    root = logging.getLogger()
    if getattr(root, "_platequeue", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s%(ctx)s"))
    handler.addFilter(ContextFilter())
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    root._platequeue = True  # type: ignore[attr-defined]
