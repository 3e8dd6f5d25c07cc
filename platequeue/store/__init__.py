"""The audit and results store: engines, sessions, models, the audit writer, migrations.

PostgreSQL in production, SQLite for demos and tests; every datetime column is
:class:`UTCDateTime` (aware UTC on both). Nothing here knows about OMERO, Celery or the
web; see ``docs/architecture.md``.
"""

from __future__ import annotations

from platequeue.states import TERMINAL_RUN, RunStatus, WellStatus
from platequeue.store._audit import audit
from platequeue.store._db import (
    StoreError,
    affected,
    dispose_all,
    engine_for,
    make_engine,
    ping,
    session_scope,
)
from platequeue.store._migrate import MIGRATIONS, alembic_config, downgrade, upgrade
from platequeue.store._models import (
    ApiToken,
    AuditEvent,
    Base,
    Measurement,
    PipelineSetting,
    Role,
    Run,
    Schedule,
    ScheduleTarget,
    StepArtifact,
    User,
    WellTask,
    utcnow,
)
from platequeue.store._types import UTCDateTime

__all__ = [
    "MIGRATIONS",
    "TERMINAL_RUN",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Measurement",
    "PipelineSetting",
    "Role",
    "Run",
    "RunStatus",
    "Schedule",
    "ScheduleTarget",
    "StepArtifact",
    "StoreError",
    "UTCDateTime",
    "User",
    "WellStatus",
    "WellTask",
    "affected",
    "alembic_config",
    "audit",
    "dispose_all",
    "downgrade",
    "engine_for",
    "make_engine",
    "ping",
    "session_scope",
    "upgrade",
    "utcnow",
]
