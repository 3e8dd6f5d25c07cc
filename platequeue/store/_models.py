"""Audit and results store: typed SQLAlchemy 2 models (PostgreSQL in production, SQLite in demos).

PostgreSQL is the source of truth for runs; Celery only carries well-task ids
(``docs/architecture.md``). Every datetime column is :class:`UTCDateTime`: stored in UTC,
read back timezone-aware on both backends.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from platequeue.states import RunStatus, WellStatus
from platequeue.store._types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the models use."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime()}


class Role(enum.StrEnum):
    USER = "user"
    OPERATOR = "operator"
    ADMIN = "admin"
    DEVELOPER = "developer"  # user rights plus custom steps (platequeue.runs.custom_steps)


class User(Base):
    """A platform user, mapped to one OMERO experimenter."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    omename: Mapped[str] = mapped_column(String(255), unique=True)
    omero_user_id: Mapped[int] = mapped_column(BigInteger)
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16), default=Role.USER.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    """One batch run of a pipeline over one plate."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    plate_id: Mapped[int] = mapped_column(BigInteger, index=True)
    plate_name: Mapped[str] = mapped_column(String(255))
    pipeline_name: Mapped[str] = mapped_column(String(128))
    pipeline_version: Mapped[str] = mapped_column(String(64))
    pipeline_hash: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    queue: Mapped[str] = mapped_column(String(32), default="cpu")
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED.value, index=True)
    wells_total: Mapped[int] = mapped_column(Integer, default=0)
    wells_done: Mapped[int] = mapped_column(Integer, default=0)
    wells_failed: Mapped[int] = mapped_column(Integer, default=0)
    finalized: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    # Operations (migration 0003): the schedule that fired it (no FK: runs outlive schedules),
    # wells skipped by incremental reprocessing (included in wells_done), retention purge.
    schedule_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Custom steps (migration 0005): the developer's signed step artifact run on each field.
    custom_step_id: Mapped[int | None] = mapped_column(ForeignKey("step_artifacts.id"))
    wells_skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    purged_at: Mapped[datetime | None] = mapped_column()
    user: Mapped[User] = relationship()


class WellTask(Base):
    """The state of one well of one run: the unit of work on the queues."""

    __tablename__ = "well_tasks"
    __table_args__ = (
        UniqueConstraint("run_id", "well_id"),
        Index("ix_well_tasks_status_dispatched", "status", "dispatched_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    well_id: Mapped[int] = mapped_column(BigInteger)
    row: Mapped[int] = mapped_column(Integer)
    column: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=WellStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    dispatched_at: Mapped[datetime | None] = mapped_column()
    task_id: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(255))
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    # Liveness (migration 0006): the boot id of the worker incarnation that claimed it.
    worker_boot: Mapped[str | None] = mapped_column(String(32))
    device: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    read_seconds: Mapped[float | None] = mapped_column(Float)
    compute_seconds: Mapped[float | None] = mapped_column(Float)
    bytes_read: Mapped[int | None] = mapped_column(BigInteger)
    fields: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    input_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)


class Measurement(Base):
    """One named numeric feature of one field of one well of one run (upserted by key)."""

    __tablename__ = "measurements"
    __table_args__ = (UniqueConstraint("run_id", "well_id", "field", "feature"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    well_id: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[int] = mapped_column(Integer)
    image_id: Mapped[int] = mapped_column(BigInteger)
    feature: Mapped[str] = mapped_column(String(128))
    value: Mapped[float] = mapped_column(Float)


class AuditEvent(Base):
    """Append-only record of who did what (submit, cancel, rerun, finish, …)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no FK: audit outlives runs
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApiToken(Base):
    """A hashed, scoped, expiring API token for the CLI and the Python client."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64), default="read")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[User] = relationship()


class ScheduleTarget(enum.StrEnum):
    PLATE = "plate"
    SCREEN = "screen"
    SCREEN_NEW_SINCE_LAST = "screen_new_since_last"


class Schedule(Base):
    """A user's recurring (re)processing: a cron expression in an IANA time zone.

    ``next_fire_at`` is UTC; beat's one static entry fires the due rows
    (:mod:`platequeue.schedules`).
    """

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_enabled_next_fire_at", "enabled", "next_fire_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int | None] = mapped_column(BigInteger)  # OMERO group scope (admins)
    name: Mapped[str] = mapped_column(String(128))
    cron: Mapped[str] = mapped_column(String(128))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    target_kind: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int] = mapped_column(BigInteger)
    pipeline_name: Mapped[str] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    on_pipeline_version_change: Mapped[bool] = mapped_column(Boolean, default=False)
    next_fire_at: Mapped[datetime] = mapped_column()
    last_fired_at: Mapped[datetime | None] = mapped_column()
    last_run_id: Mapped[int | None] = mapped_column(Integer)  # no FK: retention keeps it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    user: Mapped[User] = relationship()


class PipelineSetting(Base):
    """An administrator's switch for a pipeline in the registry; no row means enabled."""

    __tablename__ = "pipeline_settings"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(255))


class StepArtifact(Base):
    """A developer's dill-serialised step function: hashed, and signed with ``SECRET_KEY``
    over (sha256, owner id) so a worker runs only bytes the platform itself stored."""

    __tablename__ = "step_artifacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
