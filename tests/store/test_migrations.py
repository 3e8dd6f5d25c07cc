"""The Alembic migrations build exactly the typed models, on PostgreSQL and SQLite, and go
back down to nothing and up again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from platequeue.store import Base, downgrade, upgrade
from platequeue.testing import postgres_available, temporary_database


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_migrations_match_the_models(kind: str, tmp_path: Path) -> None:
    if kind == "postgresql" and not postgres_available():
        pytest.skip("needs the local PostgreSQL server")
    with temporary_database(kind, tmp_path, "pq_migr") as url:
        upgrade(url)
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == [], diff
            downgrade(url, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            upgrade(url)
            assert "pipeline_settings" in inspect(engine).get_table_names()
        finally:
            engine.dispose()
