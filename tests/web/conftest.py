"""Fixtures for the sign-in tests: a real OIDC provider on loopback and a small platform.

``oidc_provider`` is a running :class:`tests.web.oidc_provider.OidcProvider` whose users
are the demo OMERO experimenters (``demo``, ``alice``, ``lead``, ``outsider``,
``facility``) plus ``stranger``, who matches no experimenter. Register a client with
``oidc_provider.add_client(client_id, redirect_uri)`` and configure platequeue with
``oidc_provider.env(client)``. Choose who signs in at the provider's form (browser), with
``oidc_provider.authorize(url, username)``, or with ``oidc_provider.auto_user``.

``signin`` is a platform on real PostgreSQL and a leased Redis db with OIDC configured
against that provider, and a Flask test client (:class:`SignIn`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from platequeue.platform import Platform, set_platform
from platequeue.settings import load_settings
from platequeue.testing import create_database, drop_database
from tests.conftest import ROOT
from tests.web.oidc_provider import Client, OidcProvider

REDIRECT_URI = "http://localhost/oidc/callback"
DEMO_USERS = ("demo", "alice", "lead", "outsider", "facility")


@pytest.fixture
def oidc_provider() -> Iterator[OidcProvider]:
    provider = OidcProvider().start()
    for name in DEMO_USERS:
        provider.add_user(name)
    provider.add_user("stranger")
    try:
        yield provider
    finally:
        provider.stop()


@dataclass
class SmallStack:
    """A platform's environment on throwaway databases with a tiny demo plate."""

    env: dict[str, str]
    home: Path

    def platform(self, **overrides: str) -> Platform:
        p = Platform(load_settings({**self.env, **overrides}))
        set_platform(p)
        return p


@pytest.fixture
def small_stack(tmp_path: Path, redis_url: str) -> Iterator[SmallStack]:
    """Real PostgreSQL (audit + OMERO) and Redis, the demo users, a 4-well demo plate."""
    from platequeue.demo import build_demo
    from platequeue.store import dispose_all, upgrade

    audit_name, audit_url = create_database("pq_audit")
    omero_name, omero_url = create_database("pq_omero")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMERO_", "DATABASE_", "REDIS_", "OAUTH_", "APP_ENV"))}
    env.update({"APP_ENV": "test", "PLATEQUEUE_HOME": str(home), "DATABASE_URL": audit_url,
                "REDIS_URL": redis_url, "OMERO_DB_URL": omero_url,
                "OMERO_DATA_DIR": str(tmp_path / "OMERO"), "PYTHONPATH": str(ROOT)})
    try:
        upgrade(audit_url)
        build_demo(omero_url, tmp_path / "OMERO", wells=4, fields=1, size=96, seed=3,
                   count_range=(1, 3))
        yield SmallStack(env=env, home=home)
    finally:
        set_platform(None)
        dispose_all()
        drop_database(audit_name)
        drop_database(omero_name)


@dataclass
class SignIn:
    """The app under test, its test client, and the provider it trusts."""

    app: Flask
    client: FlaskClient
    platform: Platform
    provider: OidcProvider
    oidc_client: Client

    @property
    def redis(self) -> redis.Redis:
        return self.platform.redis

    def session_id(self) -> str | None:
        cookie = self.client.get_cookie("session")
        return None if cookie is None else cookie.value

    def start(self, **query: str) -> str:
        """GET /oidc/login; returns the provider authorization URL it redirects to."""
        res = self.client.get("/oidc/login", query_string=query)
        assert res.status_code == 302, res.get_data(as_text=True)
        location = str(res.headers["Location"])
        assert location.startswith(self.provider.url + "/authorize?")
        return location

    def callback(self, url: str) -> TestResponse:
        parts = urlsplit(url)
        return self.client.get(f"{parts.path}?{parts.query}")

    def sign_in(self, username: str = "demo") -> TestResponse:
        """The whole code flow over HTTP: our app, the provider's form, our callback."""
        return self.callback(self.provider.authorize(self.start(), username))

    def csrf(self) -> str:
        with self.client.session_transaction() as sess:
            return str(sess.get("csrf", ""))


def make_signin(small_stack: SmallStack, provider: OidcProvider, *, discovery: bool = True,
                test_config: dict[str, Any] | None = None, **env: str) -> SignIn:
    from web import create_app

    oidc_client = provider.add_client(f"platequeue-{len(provider.clients)}", REDIRECT_URI)
    platform = small_stack.platform(**provider.env(oidc_client, discovery=discovery), **env)
    app = create_app({"TESTING": True, **(test_config or {})}, platform=platform)
    return SignIn(app, app.test_client(), platform, provider, oidc_client)


@pytest.fixture
def signin(small_stack: SmallStack, oidc_provider: OidcProvider) -> SignIn:
    return make_signin(small_stack, oidc_provider)


@pytest.fixture
def signin_factory(small_stack: SmallStack,
                   oidc_provider: OidcProvider) -> Callable[..., SignIn]:
    def make(**kwargs: Any) -> SignIn:
        return make_signin(small_stack, oidc_provider, **kwargs)
    return make
