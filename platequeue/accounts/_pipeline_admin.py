"""Administrators switch pipelines on and off for submission (audited).

A disabled pipeline stays in the registry — its runs, results and hashes stay readable —
but new submissions (CLI, API, pages, schedules) are refused with 409.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from pipelines import registry
from platequeue.errors import Conflict, NotFound
from platequeue.platform import Platform
from platequeue.store import PipelineSetting, audit, session_scope, utcnow


@dataclass(frozen=True)
class PipelineState:
    name: str
    version: str
    hash: str
    gpu: bool
    steps: int
    enabled: bool
    updated_by: str | None


def disabled(platform: Platform) -> set[str]:
    """Names of the pipelines an administrator has disabled."""
    with platform.audit.connect() as conn:
        return set(conn.scalars(select(PipelineSetting.name)
                                .where(PipelineSetting.enabled.is_(False))))


def check_enabled(platform: Platform, name: str) -> None:
    """Refuse (409) a submission of a disabled pipeline."""
    with platform.audit.connect() as conn:
        enabled = conn.scalar(select(PipelineSetting.enabled)
                              .where(PipelineSetting.name == name))
    if enabled is False:
        raise Conflict(f"pipeline {name!r} is disabled by an administrator; choose another "
                       f"(platequeue pipelines) or ask them to enable it")


def states(platform: Platform) -> list[PipelineState]:
    """Every listed pipeline with its switch."""
    with session_scope(platform.audit) as s:
        rows = {r.name: r for r in s.scalars(select(PipelineSetting))}
        out = []
        for name in registry.names():
            pipe, row = registry.get(name), rows.get(name)
            out.append(PipelineState(pipe.name, pipe.version, pipe.hash, pipe.gpu,
                                     len(pipe.spec.get("steps", [])),
                                     row is None or row.enabled,
                                     None if row is None else row.updated_by))
    return out


def set_enabled(platform: Platform, name: str, enabled: bool, *, actor: str) -> bool:
    """Switch *name* on or off; returns whether anything changed. Audited when it did."""
    if name not in registry.names():
        raise NotFound(f"no pipeline named {name!r}")
    with session_scope(platform.audit) as s:
        row = s.get(PipelineSetting, name)
        before = True if row is None else row.enabled
        if before == enabled:
            return False
        if row is None:
            row = PipelineSetting(name=name, updated_by=actor)
            s.add(row)
        row.enabled, row.updated_by, row.updated_at = enabled, actor, utcnow()
        audit(s, actor, "pipeline-enabled" if enabled else "pipeline-disabled", None,
              pipeline=name)
    return True
