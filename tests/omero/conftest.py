"""Fixtures for the OMERO data-plane tests: fresh databases on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from platequeue.omero.fixture import build_demo
from platequeue.omero.manifest import DemoManifest

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _pg_available() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL)
        with eng.connect():
            pass
        eng.dispose()
        return True
    except OperationalError:
        return False


_PG = _pg_available()


def _make_pg_db() -> tuple[str, str]:
    name = f"pq_omero_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _drop_pg_db(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a fresh, empty database (SQLite file or a new PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'omero.db'}"
        return
    if not _PG:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 not reachable")
    name, url = _make_pg_db()
    try:
        yield url
    finally:
        _drop_pg_db(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DemoManifest, Engine]]:
    """A demo repository (1 plate, 96 wells x 2 fields, 256 px) and an engine on it."""
    data_dir = tmp_path_factory.mktemp(f"demo_{request.param}")
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'omero.db'}"
    else:
        if not _PG:
            pytest.skip("PostgreSQL at 127.0.0.1:5432 not reachable")
        name, url = _make_pg_db()
    try:
        manifest = build_demo(url, data_dir)
        eng = create_engine(url)
        yield manifest, eng
        eng.dispose()
    finally:
        if name is not None:
            _drop_pg_db(name)
