"""Database URLs as people write them, turned into the ones SQLAlchemy connects with.

PostgreSQL URLs come in three spellings: ``postgresql://`` (SQLAlchemy's default driver
for it is psycopg2, which platequeue does not install), ``postgres://`` (Heroku, many
PaaS and ``pg_dump`` docs; SQLAlchemy refuses it) and ``postgresql+psycopg://``. All three
mean psycopg 3 here. Any other explicit driver, and SQLite URLs, are kept as written.
"""

from __future__ import annotations

__all__ = ["DatabaseUrlError", "normalize_db_url"]

_POSTGRES = {"postgres", "postgresql"}


class DatabaseUrlError(ValueError):
    """The text is not a database URL SQLAlchemy can parse."""


def normalize_db_url(url: str) -> str:
    """``url`` with ``postgresql://`` and ``postgres://`` mapped to psycopg 3.

    >>> normalize_db_url("postgres://u:p@db:5432/audit")
    'postgresql+psycopg://u:p@db:5432/audit'
    >>> normalize_db_url("postgresql+psycopg://u@db/audit")
    'postgresql+psycopg://u@db/audit'
    >>> normalize_db_url("sqlite:///var/platequeue.db")
    'sqlite:///var/platequeue.db'
    """
    # SQLAlchemy is imported here, not at module level: settings (and so the client CLI)
    # must load without the server dependencies.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url.strip())
    except ArgumentError as exc:
        raise DatabaseUrlError(str(exc)) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in _POSTGRES and driver in {"", "psycopg"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "postgres":
        parsed = parsed.set(drivername=f"postgresql+{driver}")
    return parsed.render_as_string(hide_password=False)
