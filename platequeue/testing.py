"""Throwaway databases for the test suite and the benchmarks (never used by services).

Each caller gets a uniquely named PostgreSQL database (``<prefix>_<hex>``) on the local
server, or a SQLite file, and removes it afterwards.
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"


def postgres_available() -> bool:
    """Whether the local PostgreSQL server answers."""
    try:
        engine = create_engine(ADMIN_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except OperationalError:
        return False


def _admin(sql: str) -> None:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


def create_database(prefix: str = "pq") -> tuple[str, str]:
    """Create an empty PostgreSQL database; returns its name and SQLAlchemy URL."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    _admin(f'CREATE DATABASE "{name}"')
    return name, f"{SERVER_URL}/{name}"


def drop_database(name: str) -> None:
    """Drop a database created by :func:`create_database`, closing its connections."""
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def temporary_database(kind: str, directory: Path, prefix: str = "pq") -> Iterator[str]:
    """The URL of a fresh, empty database of ``kind`` (``sqlite`` or ``postgresql``)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'{prefix}.db'}"
        return
    if kind != "postgresql":
        raise ValueError(f"kind must be 'sqlite' or 'postgresql', got {kind!r}")
    name, url = create_database(prefix)
    try:
        yield url
    finally:
        drop_database(name)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """*app* (any WSGI callable) on a real HTTP server on loopback, in a thread; yields its
    base URL and shuts the server down afterwards."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="wsgi", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def free_port() -> int:
    """A loopback TCP port nothing listens on (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
