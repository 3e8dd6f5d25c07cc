"""Fixtures for the ops tests: a PostgreSQL server to dump, restore and query."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest

# Server-level DSN (libpq); override with PLATEQUEUE_TEST_PG for another server.
PG_DSN = os.environ.get("PLATEQUEUE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def psql(dsn: str, sql: str) -> str:
    proc = subprocess.run(
        ["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
        capture_output=True, text=True, timeout=60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"psql failed: {proc.stderr.strip()}")
    return proc.stdout


def with_db(dsn: str, name: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    if not (shutil.which("psql") and shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("PostgreSQL client tools not installed")
    try:
        psql(PG_DSN, "SELECT 1")
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no PostgreSQL at {PG_DSN}: {exc}")
    return PG_DSN


@pytest.fixture
def fresh_db_name(pg_dsn: str) -> Iterator[Callable[[], str]]:
    """Hands out unique database names and drops every one of them afterwards."""
    names: list[str] = []

    def make() -> str:
        name = f"pq_ops_{uuid.uuid4().hex[:12]}"
        names.append(name)
        return name

    yield make
    for name in names:
        psql(pg_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
