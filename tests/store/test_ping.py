"""store.ping: the readiness probe's database check, on SQLite and PostgreSQL, and what it
raises when the database does not answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from platequeue.store import StoreError, dispose_all, make_engine, ping
from platequeue.testing import temporary_database
from tests.conftest import STORE_KINDS


@pytest.fixture(params=STORE_KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with temporary_database(request.param, tmp_path, prefix="pq_ping") as found:
        yield found
        dispose_all()


def test_ping_answers(url: str) -> None:
    engine = make_engine(url)
    ping(engine)  # raises when the database does not answer
    engine.dispose()


def test_ping_raises_store_error_when_nothing_answers(tmp_path: Path) -> None:
    down = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")  # nothing listens
    with pytest.raises(StoreError) as info:
        ping(down)
    assert type(info.value).__name__ == "OperationalError"  # what /ready reports
    down.dispose()
