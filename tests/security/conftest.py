"""Fixtures for the attack suite.

``matrix`` (one per module): real PostgreSQL (audit + OMERO) and a leased Redis db, an OMERO
fixture with one small plate in a group of each of OMERO's five permission levels (owned by
``<level>-owner``), and for each platform role (user, developer, operator, admin) a viewer
who is a member of all five groups (``<role>-in``) and one who is a member of none
(``<role>-out``). Each viewer has a submit-scoped API token and a signed-in browser client
(development sign-in). :meth:`Matrix.run` writes a run straight into the store, as if its
owner had submitted it (and perhaps lost access since).

The sign-in fixtures (``signin``, ``signin_factory``: a real OIDC provider on loopback) and
the page/API fixtures (``web``, ``api``) come from ``tests/web``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine

from platequeue import accounts
from platequeue.accounts import tokens, users
from platequeue.omero import GROUP_LEVELS
from platequeue.platform import Platform
from platequeue.store import Run, WellTask, session_scope, utcnow
from tests.conftest import ROOT, leased_redis_db
from tests.web.api_fixtures import api
from tests.web.conftest import oidc_provider, signin, signin_factory, small_stack
from tests.web.pages_fixtures import login, web

__all__ = ["api", "oidc_provider", "signin", "signin_factory", "small_stack", "web"]

ROLES = ("user", "developer", "operator", "admin")
LEVELS = tuple(GROUP_LEVELS)


@dataclass
class Matrix:
    platform: Platform
    app: Flask
    plates: dict[str, int]  # level -> plate id
    tokens: dict[str, str] = field(default_factory=dict)  # omename -> submit token
    clients: dict[str, tuple[FlaskClient, str]] = field(default_factory=dict)

    def browser(self, omename: str) -> tuple[FlaskClient, str]:
        """A signed-in test client for *omename* and its CSRF token."""
        if omename not in self.clients:
            client = self.app.test_client()
            self.clients[omename] = (client, login(client, omename))
        return self.clients[omename]

    def bearer(self, omename: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[omename]}"}

    def run(self, owner: str, level: str, status: str = "running") -> int:
        """A run of *owner* on the *level* plate, written directly: ``running`` (wells
        running) or ``failed`` (its one well failed)."""
        user = accounts.ensure_user(self.platform, owner)
        plate_id = self.plates[level]
        wells = self.platform.catalog.wells(plate_id)
        well_state = "failed" if status == "failed" else "running"
        with session_scope(self.platform.audit) as s:
            run = Run(user_id=user.id, plate_id=plate_id, plate_name=f"{level} plate",
                      pipeline_name="nuclei-count", pipeline_version="1", pipeline_hash="x",
                      params={}, channels=["DAPI", "GFP"], queue="cpu",
                      wells_total=len(wells), status=status,
                      wells_failed=len(wells) if status == "failed" else 0,
                      started_at=utcnow(), finished_at=utcnow() if status == "failed" else None,
                      finalized=status == "failed")
            s.add(run)
            s.flush()
            s.add_all(WellTask(run_id=run.id, user_id=user.id, well_id=w.id, row=w.row,
                               column=w.column, label=w.label, status=well_state,
                               error="OSError: cannot read /OMERO/Pixels/1 (truncated)"
                               if status == "failed" else None) for w in wells)
            return int(run.id)


def _build_omero(url: str, data_dir: Path) -> dict[str, int]:
    from platequeue.demo import FixtureBuilder

    engine = create_engine(url)
    b = FixtureBuilder(engine, data_dir, seed=11)
    b.bootstrap()
    groups = {level: b.add_group(f"{level}-lab", level) for level in LEVELS}
    plates = {}
    for level, gid in groups.items():
        owner = b.add_user(f"{level}-owner", groups=(gid,))
        plates[level] = b.add_plate(f"{level} plate", owner=owner, group=gid, wells=[(0, 0)],
                                    fields=1, size=96, count_range=(1, 3)).id
    # a plate whose OMERO row declares an absurd geometry (a corrupt or hostile database)
    plates["huge"] = b.add_plate("huge plate", owner=b.users["public-owner"],
                                 group=groups["public"], rows=100_000, columns=100_000,
                                 wells=[(0, 0)], fields=1, size=96, count_range=(1, 3)).id
    for role in ROLES:
        b.add_user(f"{role}-in", groups=tuple(groups.values()))
        b.add_user(f"{role}-out")
    engine.dispose()
    return plates


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    from platequeue.platform import set_platform
    from platequeue.settings import load_settings
    from platequeue.store import dispose_all, upgrade
    from platequeue.testing import create_database, drop_database
    from web import create_app

    tmp = tmp_path_factory.mktemp("matrix")
    audit_name, audit_url = create_database("pq_audit")
    omero_name, omero_url = create_database("pq_omero")
    try:
        with leased_redis_db(lease_s=3600) as redis_url:
            upgrade(audit_url)
            plates = _build_omero(omero_url, tmp / "OMERO")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("OMERO_", "DATABASE_", "REDIS_", "OAUTH_", "QUOTA_"))}
            env.update({"APP_ENV": "development", "PLATEQUEUE_HOME": str(tmp / "home"),
                        "DATABASE_URL": audit_url, "REDIS_URL": redis_url,
                        "OMERO_DB_URL": omero_url, "OMERO_DATA_DIR": str(tmp / "OMERO"),
                        "QUOTA_CONCURRENT_RUNS": "100000",
                        "QUOTA_SUBMISSIONS_PER_MINUTE": "100000", "PYTHONPATH": str(ROOT)})
            platform = Platform(load_settings(env))
            set_platform(platform)
            app = create_app(platform=platform)
            app.config["TESTING"] = True
            m = Matrix(platform, app, plates)
            for role in ROLES:
                for side in ("in", "out"):
                    name = f"{role}-{side}"
                    user = accounts.ensure_user(platform, name)
                    users.set_role(platform, name, role, actor="test")
                    m.tokens[name] = tokens.create(platform, user.id, name="t",
                                                   scope="submit", days=1)
            for level in LEVELS:
                accounts.ensure_user(platform, f"{level}-owner")
            yield m
    finally:
        set_platform(None)
        dispose_all()
        drop_database(audit_name)
        drop_database(omero_name)
