"""Fixtures for the JSON API, client and Flower tests (import them explicitly).

``api`` builds on the ``stack`` fixture: the Flask app on real PostgreSQL and Redis, and
submit-scoped API tokens for ``demo`` (user), ``lead`` (promoted to operator) and
``facility`` (an OMERO administrator, so admin).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import update

from platequeue.accounts import ensure_user, tokens
from platequeue.platform import Platform
from platequeue.store import Role, User, session_scope
from tests.conftest import Stack

WHO = {"user": "demo", "operator": "lead", "admin": "facility"}


@dataclass
class Api:
    stack: Stack
    platform: Platform
    app: Flask
    tokens: dict[str, str]  # role -> submit-scoped token

    def headers(self, role: str = "user") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def token(self, role: str = "user", scope: str = "submit") -> str:
        user = ensure_user(self.platform, WHO[role])
        return tokens.create(self.platform, user.id, name=f"{role}-{scope}", scope=scope,
                             days=1)


@pytest.fixture
def api(stack: Stack) -> Iterator[Api]:
    from web import create_app

    platform = stack.platform()
    made: dict[str, str] = {}
    for role, omename in WHO.items():
        user = ensure_user(platform, omename)
        if role == "operator":
            with session_scope(platform.audit) as s:
                s.execute(update(User).where(User.id == user.id)
                          .values(role=Role.OPERATOR.value))
        made[role] = tokens.create(platform, user.id, name=role, scope="submit", days=1)
    app = create_app({"TESTING": True}, platform=platform)
    yield Api(stack=stack, platform=platform, app=app, tokens=made)
