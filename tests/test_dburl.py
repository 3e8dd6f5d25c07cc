"""Database URLs: every way people spell a PostgreSQL URL connects (real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from platequeue.dburl import DatabaseUrlError, normalize_db_url
from platequeue.settings import SettingsError, load_settings
from platequeue.store import dispose_all, make_engine, upgrade
from platequeue.testing import create_database, drop_database

FORMS = ("postgresql://{rest}", "postgres://{rest}", "postgresql+psycopg://{rest}")


@pytest.mark.parametrize(("given", "expected"), [
    ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
    ("postgres://u:p@h/d?sslmode=require", "postgresql+psycopg://u:p@h/d?sslmode=require"),
    ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ("postgres+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
    ("postgres+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
    ("sqlite:////var/lib/pq/audit.db", "sqlite:////var/lib/pq/audit.db"),
    ("postgres://u:p%40ss@h/d", "postgresql+psycopg://u:p%40ss@h/d"),
])
def test_normalize(given: str, expected: str) -> None:
    assert normalize_db_url(given) == expected


def test_not_a_url() -> None:
    with pytest.raises(DatabaseUrlError):
        normalize_db_url("postgres//nope")


def test_settings_refuse_other_schemes_in_one_line() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL") as info:
        load_settings({"DATABASE_URL": "mysql://u@h/d"})
    assert "\n" not in str(info.value)


@pytest.fixture
def database() -> Iterator[str]:
    name, url = create_database("pq_url")
    try:
        yield url
    finally:
        dispose_all()
        drop_database(name)


@pytest.mark.parametrize("form", FORMS)
def test_every_form_connects_and_migrates(database: str, form: str, tmp_path: Path) -> None:
    rest = database.split("://", 1)[1]
    url = form.format(rest=rest)
    settings = load_settings({"PLATEQUEUE_HOME": str(tmp_path), "DATABASE_URL": url,
                              "OMERO_DB_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.omero_db_url == settings.database_url
    upgrade(settings.database_url)  # alembic through the normalised URL
    engine = make_engine(url)  # and straight from the form as written
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
            assert conn.dialect.driver == "psycopg"
    finally:
        engine.dispose()
