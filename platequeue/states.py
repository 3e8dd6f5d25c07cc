"""The states of runs and wells, defined once for every caller (server, CLI, client).

Plain :class:`enum.StrEnum` members compare equal to their strings, so rows, JSON and
command-line output keep the same values. No third-party import: the Python client uses
this module too (see ``docs/architecture.md``).
"""

from __future__ import annotations

import enum


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_RUN = frozenset({RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED,
                          RunStatus.CANCELLED})
"""A run in one of these states never changes again (except a rerun of its failed wells)."""

ACTIVE_RUN = (RunStatus.QUEUED, RunStatus.RUNNING)
"""Runs whose wells may still be dispatched or running."""


class WellStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRY = "retry"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # incremental: inputs unchanged, measurements copied (counts as done)


PENDING_WELL = (WellStatus.QUEUED, WellStatus.RETRY)
"""Wells waiting for a worker (never claimed, or to be retried)."""
