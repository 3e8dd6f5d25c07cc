"""accounts.users lookups the web uses: one user by id (detached, usable after the session)
and the operators' list of accounts, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from platequeue.accounts import UserInfo, users
from platequeue.platform import Platform
from platequeue.store import User, session_scope
from tests.conftest import STORE_KINDS, migrated_platform


@pytest.fixture(params=STORE_KINDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    with migrated_platform(request.param, tmp_path, "pq_users") as made:
        yield made


def _add(platform: Platform, omename: str, omero_id: int, role: str) -> int:
    with session_scope(platform.audit) as s:
        user = User(omename=omename, omero_user_id=omero_id, role=role)
        s.add(user)
        s.flush()
        return user.id


def test_by_id_returns_a_detached_user_or_none(platform: Platform) -> None:
    uid = _add(platform, "demo", 2, "operator")
    found = users.by_id(platform, uid)
    assert found is not None
    assert (found.id, found.omename, found.omero_user_id, found.role) == (uid, "demo", 2,
                                                                          "operator")
    assert users.by_id(platform, uid + 1000) is None


def test_list_users_by_name_with_roles(platform: Platform) -> None:
    assert users.list_users(platform) == []
    zed = _add(platform, "zed", 9, "user")
    alice = _add(platform, "alice", 3, "admin")
    bob = _add(platform, "bob", 4, "developer")
    assert users.list_users(platform) == [UserInfo(alice, "alice", 3, "admin"),
                                          UserInfo(bob, "bob", 4, "developer"),
                                          UserInfo(zed, "zed", 9, "user")]
