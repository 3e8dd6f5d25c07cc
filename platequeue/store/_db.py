"""Engines and sessions for the audit store and the (read-only) OMERO database."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from platequeue.dburl import normalize_db_url

log = logging.getLogger(__name__)

#: What any failed database call raises (the driver's errors are wrapped in it), for
#: callers that report a database problem without importing SQLAlchemy.
StoreError = SQLAlchemyError

_engines: dict[str, tuple[int, Engine]] = {}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine with sensible pool settings for either backend."""
    url = normalize_db_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def engine_for(url: str) -> Engine:
    """One engine per URL per process; a forked child gets fresh ones (never shares sockets)."""
    pid = os.getpid()
    cached = _engines.get(url)
    if cached is not None and cached[0] == pid:
        return cached[1]
    if cached is not None:
        cached[1].dispose(close=False)
    engine = make_engine(url)
    _engines[url] = (pid, engine)
    return engine


def dispose_all() -> None:
    """Forget every engine (after fork, or at shutdown)."""
    for pid, engine in _engines.values():
        engine.dispose(close=pid == os.getpid())
    _engines.clear()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A transaction at a request/task boundary: commit on success, roll back on error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory.begin() as session:
        yield session


def affected(result: Any) -> int:
    """Rows matched by an UPDATE/DELETE (``CursorResult.rowcount``), typed."""
    return int(getattr(result, "rowcount", 0) or 0)


def ping(engine: Engine) -> None:
    """Run ``SELECT 1`` on *engine*: returns when the database answers, raises
    :data:`StoreError` (or :class:`OSError`) when it does not."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
