"""Fixtures and helpers for the page tests: an app in development mode on the test stack,
sign-in through the development login form, and finished runs with known results."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from platequeue import accounts, runs
from platequeue.accounts import users
from platequeue.platform import Platform
from platequeue.store import Measurement, Run, WellTask, session_scope, utcnow
from tests.conftest import Stack

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class Web:
    stack: Stack
    platform: Platform
    app: Flask

    def client(self, omename: str | None = None) -> FlaskClient:
        c = self.app.test_client()
        if omename is not None:
            login(c, omename)
        return c

    @property
    def demo_plate(self) -> int:
        return int(self.stack.manifest.plates[0].id)  # type: ignore[attr-defined]

    @property
    def private_plate(self) -> int:
        m = self.stack.manifest  # type: ignore[attr-defined]
        demo = m.plates[0]
        return int(next(p for p in m.plates if p.group_id != demo.group_id).id)


def make_web(stack: Stack) -> Web:
    """The Flask app on *stack* with ``APP_ENV=development`` (the dev sign-in), testing on."""
    from web import create_app

    stack.env["APP_ENV"] = "development"
    platform = stack.platform()
    app = create_app(platform=platform)
    app.config["TESTING"] = True
    return Web(stack, platform, app)


@pytest.fixture
def web(stack: Stack) -> Iterator[Web]:
    """The Flask app on the test stack with ``APP_ENV=development`` (the dev sign-in)."""
    yield make_web(stack)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "page has no CSRF meta tag"
    return found.group(1)


def login(client: FlaskClient, omename: str) -> str:
    """Sign in with the development form; returns the session's CSRF token."""
    page = client.get("/login")
    assert page.status_code == 200
    token = csrf_of(page.get_data(as_text=True))
    r = client.post("/login", data={"omename": omename, "csrf_token": token})
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:500]
    return csrf_of(client.get("/plates").get_data(as_text=True))


def set_role(platform: Platform, omename: str, role: str) -> None:
    accounts.ensure_user(platform, omename)
    users.set_role(platform, omename, role, actor="test")


def finish_run(platform: Platform, run_id: int,
               values: Mapping[str, float] | None = None, *, feature: str = "count",
               default: float = 10.0) -> dict[str, float]:
    """Mark every well of the run succeeded with two fields of known measurements.

    Field 0 carries ``values[label]`` (else ``default`` plus a small per-well spread) and
    field 1 the same value, so the well mean is that value; ``mean_area`` is 2x it.
    Returns the well means of ``feature``.
    """
    means: dict[str, float] = {}
    with session_scope(platform.audit) as s:
        wells = s.scalars(select(WellTask).where(WellTask.run_id == run_id)).all()
        for i, w in enumerate(wells):
            v = (values or {}).get(w.label, default + (i % 5) * 0.5)
            means[w.label] = v
            for field in (0, 1):
                s.add(Measurement(run_id=run_id, well_id=w.well_id, field=field,
                                  image_id=1000 + 2 * i + field, feature=feature, value=v))
                s.add(Measurement(run_id=run_id, well_id=w.well_id, field=field,
                                  image_id=1000 + 2 * i + field, feature="mean_area",
                                  value=2 * v))
        s.execute(update(WellTask).where(WellTask.run_id == run_id)
                  .values(status="succeeded", finished_at=utcnow(), fields=2,
                          read_seconds=0.01, compute_seconds=0.03, bytes_read=1))
        s.execute(update(Run).where(Run.id == run_id)
                  .values(status="succeeded", wells_done=len(wells), finalized=True,
                          started_at=utcnow(), finished_at=utcnow()))
    return means


def submit(platform: Platform, omename: str, plate_id: int,
           pipeline: str = "nuclei-count", **params: Any) -> int:
    return runs.submit(platform, omename=omename, plate_id=plate_id, pipeline=pipeline,
                       params=params).run_id
