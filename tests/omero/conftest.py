"""Fixtures for the OMERO data-plane tests: fresh databases on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from platequeue.demo import DemoManifest, build_demo
from platequeue.testing import postgres_available, temporary_database

_PG = postgres_available()


def fresh_db(kind: str, directory: Path) -> AbstractContextManager[str]:
    """A fresh, empty OMERO database of *kind*; skips when PostgreSQL is not reachable."""
    if kind == "postgresql" and not _PG:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 not reachable")
    return temporary_database(kind, directory, prefix="pq_omero")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a fresh, empty database (SQLite file or a new PostgreSQL database)."""
    with fresh_db(request.param, tmp_path) as url:
        yield url


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
    with fresh_db(request.param, data_dir) as url:
        manifest = build_demo(url, data_dir)
        eng = create_engine(url)
        yield manifest, eng
        eng.dispose()
