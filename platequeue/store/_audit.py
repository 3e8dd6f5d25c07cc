"""The one way to write to the append-only audit log (inside the caller's transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from platequeue.store._models import AuditEvent


def audit(s: Session, actor: str, action: str, run_id: int | None, **detail: Any) -> None:
    """Record who did what (``detail`` is stored as JSON); committed with *s*."""
    s.add(AuditEvent(actor=actor, action=action, run_id=run_id, detail=detail))
