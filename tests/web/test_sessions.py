"""The Redis session store: JSON only, never pickle; ids the server did not issue are ignored."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from tests.web.conftest import SignIn
from web.sessions import KEY_PREFIX, new_sid


class Evil:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def test_session_is_json_with_a_sliding_ttl(signin: SignIn) -> None:
    signin.sign_in("demo")
    sid = str(signin.session_id())
    key = KEY_PREFIX + sid
    record = json.loads(signin.redis.get(key) or b"{}")
    assert set(record) >= {"user", "csrf", "oidc"}
    signin.redis.expire(key, 5)
    assert signin.client.get("/api/me").status_code == 200
    assert signin.redis.ttl(key) > signin.platform.settings.session_ttl - 10
    assert signin.session_id() == sid  # no new id without a sign-in


def test_unknown_session_id_is_not_adopted(signin: SignIn) -> None:
    planted = new_sid()  # e.g. set by an attacker before the victim signs in
    signin.client.set_cookie("session", planted)
    signin.client.get("/login")  # the page writes a CSRF token: a session is created
    assert signin.session_id() != planted
    assert signin.redis.get(KEY_PREFIX + planted) is None
    signin.sign_in("demo")
    assert signin.session_id() != planted


def test_pickled_session_record_is_never_unpickled(signin: SignIn, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    sid = new_sid()
    signin.redis.set(KEY_PREFIX + sid, pickle.dumps({"user": Evil(marker)}))
    signin.client.set_cookie("session", sid)
    assert signin.client.get("/api/me").status_code == 401
    assert not marker.exists()
    signin.redis.set(KEY_PREFIX + sid, json.dumps(["not", "a", "dict"]))
    assert signin.client.get("/api/me").status_code == 401


def test_anonymous_requests_store_nothing(signin: SignIn) -> None:
    assert signin.client.get("/api/runs").status_code == 401
    assert signin.client.get("/health").status_code == 200
    assert signin.session_id() is None
    assert list(signin.redis.scan_iter(KEY_PREFIX + "*")) == []
