"""API tokens through the UI, roles checked on the server, CSRF, and the development sign-in."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from platequeue.accounts import ensure_user, set_role, tokens
from platequeue.ops import maintenance
from platequeue.store import ApiToken, Role, session_scope, utcnow
from tests.web.conftest import SignIn, SmallStack
from web.sessions import KEY_PREFIX

TOKEN = re.compile(r'<code id="token-value">(pq_[A-Za-z0-9_-]+)</code>')


def _create(s: SignIn, scope: str = "submit", days: str = "7", name: str = "cli") -> str:
    res = s.client.post("/account/tokens", data={"name": name, "scope": scope, "days": days,
                                                 "csrf_token": s.csrf()})
    assert res.status_code == 201, res.get_data(as_text=True)
    assert res.headers["Cache-Control"] == "no-store"
    found = TOKEN.search(res.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _plate(s: SignIn) -> int:
    demo = s.platform.catalog.find_user("demo")
    assert demo is not None
    return s.platform.catalog.plates_for_user(demo.id)[0].id


def test_token_create_shown_once_use_and_revoke(signin: SignIn) -> None:
    assert signin.sign_in("demo").status_code == 302
    token = _create(signin)
    with session_scope(signin.platform.audit) as db:  # stored hashed, never in clear
        row = db.scalar(select(ApiToken))
        assert row is not None and row.token_hash == tokens.digest(token)
        assert token not in row.token_hash and row.scopes == "submit"
    listing = signin.client.get("/account/tokens").get_data(as_text=True)
    assert token not in listing and "cli" in listing and "active" in listing
    api = signin.app.test_client()  # no cookies: the token alone
    me = api.get("/api/me", headers=_bearer(token))
    assert me.status_code == 200 and me.get_json()["omename"] == "demo"
    assert me.get_json()["via"] == "token"
    # a token cannot mint tokens
    assert api.post("/account/tokens", data={"name": "x"}, headers=_bearer(token)).status_code \
        == 403
    token_id = int(re.findall(r'data-token="(\d+)"', listing)[0])
    assert signin.client.post(f"/account/tokens/{token_id}/revoke").status_code == 403  # CSRF
    assert api.get("/api/me", headers=_bearer(token)).status_code == 200
    res = signin.client.post(f"/account/tokens/{token_id}/revoke",
                             data={"csrf_token": signin.csrf()})
    assert res.status_code == 303
    assert api.get("/api/runs", headers=_bearer(token)).status_code == 401
    assert "revoked" in signin.client.get("/account/tokens").get_data(as_text=True)


def test_expired_token_refused(signin: SignIn) -> None:
    signin.sign_in("demo")
    token = _create(signin, days="1")
    api = signin.app.test_client()
    assert api.get("/api/runs", headers=_bearer(token)).status_code == 200
    with session_scope(signin.platform.audit) as db:
        db.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    tokens.invalidate(signin.platform)  # a change by hand in SQL: drop cached lookups
    res = api.get("/api/runs", headers=_bearer(token))
    assert res.status_code == 401 and "expired" in res.get_json()["error"]
    assert "expired" in signin.client.get("/account/tokens").get_data(as_text=True)
    assert maintenance.remove_expired_tokens(signin.platform) == 1  # beat's housekeeping


def test_read_token_cannot_submit(signin: SignIn) -> None:
    signin.sign_in("demo")
    read = _create(signin, scope="read")
    api = signin.app.test_client()
    assert api.get("/api/plates", headers=_bearer(read)).status_code == 200
    res = api.post("/api/runs", json={"plate_id": _plate(signin), "pipeline": "nuclei-count"},
                   headers=_bearer(read))
    assert res.status_code == 403 and "read" in res.get_json()["error"]


@pytest.mark.parametrize(("form", "message"), [
    ({"name": "x", "scope": "admin", "days": "7"}, "scope"),
    ({"name": "x", "scope": "read", "days": "0"}, "days=0"),
    ({"name": "x", "scope": "read", "days": "999"}, "days=999"),
    ({"name": "x", "scope": "read", "days": "soon"}, "whole number"),
    ({"name": " ", "scope": "read", "days": "7"}, "name"),
])
def test_token_form_refuses_bad_input(signin: SignIn, form: dict[str, str],
                                      message: str) -> None:
    signin.sign_in("demo")
    res = signin.client.post("/account/tokens", data={**form, "csrf_token": signin.csrf()})
    assert res.status_code == 422 and message in res.get_data(as_text=True)
    with session_scope(signin.platform.audit) as db:
        assert db.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_cannot_revoke_another_users_token(signin: SignIn) -> None:
    alice = ensure_user(signin.platform, "alice")
    theirs = tokens.create(signin.platform, alice.id, name="a", scope="read", days=1)
    signin.sign_in("demo")
    with session_scope(signin.platform.audit) as db:
        token_id = db.scalar(select(ApiToken.id))
    res = signin.client.post(f"/account/tokens/{token_id}/revoke",
                             data={"csrf_token": signin.csrf()})
    assert res.status_code == 404
    assert signin.app.test_client().get("/api/runs", headers=_bearer(theirs)).status_code == 200


def test_csrf_less_posts_refused(signin: SignIn) -> None:
    signin.sign_in("demo")
    for data in ({"name": "x", "scope": "read", "days": "1"},
                 {"name": "x", "scope": "read", "days": "1", "csrf_token": "guess"}):
        res = signin.client.post("/account/tokens", data=data)
        assert res.status_code == 403 and "CSRF" in res.get_json()["error"]
    res = signin.client.post("/api/runs", json={"plate_id": _plate(signin),
                                                "pipeline": "nuclei-count"})
    assert res.status_code == 403 and "CSRF" in res.get_json()["error"]
    with session_scope(signin.platform.audit) as db:
        assert db.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_operator_route_refused_to_users_and_roles_read_each_request(signin: SignIn) -> None:
    signin.sign_in("demo")
    res = signin.client.get("/account/users")
    assert res.status_code == 403 and "operator" in res.get_json()["error"]
    token = _create(signin, scope="read")
    api = signin.app.test_client()
    assert api.get("/account/users", headers=_bearer(token)).status_code == 403
    assert set_role(signin.platform, "demo", Role.OPERATOR.value, actor="test") == "user"
    # promoted: effective at once
    listed = signin.client.get("/account/users")
    assert listed.status_code == 200 and "demo" in {u["omename"] for u in listed.get_json()}
    assert api.get("/account/users", headers=_bearer(token)).status_code == 200
    set_role(signin.platform, "demo", Role.USER.value, actor="test")  # demoted: refused at once
    assert api.get("/account/users", headers=_bearer(token)).status_code == 403
    assert signin.client.get("/account/users").status_code == 403
    assert signin.app.test_client().get("/account/users").status_code == 401


def test_admin_has_operator_rights(signin: SignIn) -> None:
    signin.sign_in("facility")  # an OMERO administrator: admin here
    assert signin.client.get("/api/me").get_json()["role"] == "admin"
    assert signin.client.get("/account/users").status_code == 200


def test_dev_login_only_in_development(small_stack: SmallStack,
                                       signin_factory: Callable[..., SignIn]) -> None:
    dev = signin_factory(APP_ENV="development")
    page = dev.client.get("/login").get_data(as_text=True)
    assert 'id="sign-in-dev"' in page
    before = dev.session_id()
    res = dev.client.post("/login", data={"omename": "demo", "csrf_token": dev.csrf()})
    assert res.status_code == 302 and dev.session_id() != before
    assert dev.client.get("/api/me").get_json()["via"] == "session"
    record = json.loads(dev.redis.get(KEY_PREFIX + str(dev.session_id())) or b"{}")
    assert record["user"]["via"] == "dev"
    assert dev.client.post("/login", data={"omename": "nobody",
                                           "csrf_token": dev.csrf()}).status_code == 400


def test_dev_login_never_in_production(signin_factory: Callable[..., SignIn]) -> None:
    prod = signin_factory(APP_ENV="production", SECRET_KEY=secrets.token_urlsafe(48),
                          test_config={"DEV_LOGIN": True})  # even if someone turns it on
    page = prod.client.get("/login").get_data(as_text=True)
    assert 'id="sign-in-dev"' not in page and 'id="sign-in-oidc"' in page
    res = prod.client.post("/login", data={"omename": "demo", "csrf_token": prod.csrf()})
    assert res.status_code == 404
    assert prod.client.get("/api/runs").status_code == 401
    cookie = prod.client.get_cookie("session")
    assert cookie is not None and cookie.secure and cookie.http_only
    assert prod.sign_in("demo").status_code == 302  # OIDC still works in production
    assert prod.client.get("/api/me").get_json()["omename"] == "demo"
