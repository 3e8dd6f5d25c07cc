"""OIDC sign-in against a real provider on loopback, with the sessions in real Redis."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from platequeue.store import User, session_scope
from tests.web.conftest import SignIn, SmallStack
from web.sessions import KEY_PREFIX


def _users(s: SignIn) -> int:
    with session_scope(s.platform.audit) as db:
        return int(db.scalar(select(func.count()).select_from(User)) or 0)


def _stored(s: SignIn) -> dict[str, object]:
    sid = s.session_id()
    assert sid is not None
    raw = s.redis.get(KEY_PREFIX + sid)
    assert raw is not None, "no session record in Redis"
    data: dict[str, object] = json.loads(raw)
    return data


def _signed_in_as(s: SignIn) -> str | None:
    res = s.client.get("/account/tokens")
    if res.status_code != 200:
        return None
    user = _stored(s).get("user")
    assert isinstance(user, dict)
    with session_scope(s.platform.audit) as db:
        found = db.get(User, user["id"])
        return None if found is None else found.omename


@pytest.mark.parametrize("discovery", [True, False], ids=["discovery", "explicit-endpoints"])
def test_code_flow_signs_in_demo(signin_factory: Callable[..., SignIn], discovery: bool) -> None:
    s = signin_factory(discovery=discovery)
    authorize = s.start(next="/account/tokens")
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"][0]
    assert query["state"][0] and query["redirect_uri"] == [s.oidc_client.redirect_uris[0]]
    before = s.session_id()
    assert before is not None  # the state and nonce wait in a server-side session
    res = s.callback(s.provider.authorize(authorize, "demo"))
    assert res.status_code == 302 and res.headers["Location"] == "/account/tokens"
    assert len(s.provider.redeemed) == 1
    after = s.session_id()
    assert after is not None and after != before, "the session id must rotate at sign-in"
    assert s.redis.get(KEY_PREFIX + before) is None
    assert _signed_in_as(s) == "demo"
    record = _stored(s)
    assert record["user"] == {"id": record["user"]["id"], "via": "oidc"}  # type: ignore[index]
    assert not any(k.startswith("_state_") for k in record), "the OIDC state is consumed"
    ttl = s.redis.ttl(KEY_PREFIX + after)
    assert 0 < ttl <= s.platform.settings.session_ttl


def test_session_cookie_flags(signin: SignIn) -> None:
    signin.start()
    cookie = signin.client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert not cookie.secure  # Secure in production only (test_dev_login_never_in_production)


def test_forged_state_refused(signin: SignIn) -> None:
    url = signin.provider.authorize(signin.start(), "demo")
    forged = url.replace("state=", "state=forged")
    res = signin.callback(forged)
    assert res.status_code == 403 and "State not equal" in res.get_data(as_text=True)
    assert signin.provider.redeemed == []  # refused before the code was even redeemed
    assert _signed_in_as(signin) is None


def test_replayed_code_refused(signin: SignIn) -> None:
    first = signin.provider.authorize(signin.start(), "demo")
    assert signin.callback(first).status_code == 302
    # the same callback again: its state was used up
    assert signin.callback(first).status_code == 403
    signin.client.post("/logout", data={"csrf_token": signin.csrf()})
    # a fresh, valid state carrying the old code: the provider refuses to redeem it twice
    fresh = urlsplit(signin.provider.authorize(signin.start(), "demo"))
    state = parse_qs(fresh.query)["state"][0]
    code = parse_qs(urlsplit(first).query)["code"][0]
    res = signin.client.get("/oidc/callback", query_string={"code": code, "state": state})
    assert res.status_code == 403
    assert "Invalid 'code'" in html.unescape(res.get_data(as_text=True))
    assert _signed_in_as(signin) is None


@pytest.mark.parametrize(("tamper", "why"), [
    ({"aud": ["another-client"]}, "claim: 'aud'"),
    ({"aud": ["another-client"], "azp": "{client}"}, "claim: 'aud'"),  # authlib alone takes it
    ({"exp": -3600, "iat": -7200}, "expired"),
    ({"nonce": "not-the-nonce-we-sent"}, "claim: 'nonce'"),
    ({"iss": "http://127.0.0.1:1/evil"}, "claim: 'iss'"),
])
def test_bad_id_tokens_refused(signin: SignIn, tamper: dict[str, object], why: str) -> None:
    now = int(time.time())
    fixed: dict[str, object] = {}
    for k, v in tamper.items():
        if k in ("exp", "iat") and isinstance(v, int):
            fixed[k] = now + v
        elif v == "{client}":
            fixed[k] = signin.oidc_client.client_id
        else:
            fixed[k] = v
    signin.provider.tamper = fixed
    res = signin.sign_in("demo")
    assert res.status_code == 403, why
    page = html.unescape(res.get_data(as_text=True))
    assert "could not be verified" in page and why in page, page
    assert _signed_in_as(signin) is None, why
    signin.provider.tamper = {}
    assert signin.sign_in("demo").status_code == 302  # the same set-up, untampered, works


def test_signature_from_unknown_key_refused(signin: SignIn) -> None:
    signin.provider.foreign_key = True
    res = signin.sign_in("demo")
    assert res.status_code == 403 and "bad signature" in res.get_data(as_text=True)
    assert _signed_in_as(signin) is None


def test_provider_error_refused(signin: SignIn) -> None:
    state = parse_qs(urlsplit(signin.start()).query)["state"][0]
    res = signin.client.get("/oidc/callback",
                            query_string={"error": "access_denied", "state": state})
    assert res.status_code == 403 and "access denied" in res.get_data(as_text=True)


def test_unknown_identity_refused_and_no_account_created(signin: SignIn) -> None:
    users = _users(signin)
    res = signin.sign_in("stranger")
    page = res.get_data(as_text=True)
    assert res.status_code == 403 and 'id="refusal"' in page
    assert "not linked to an OMERO account" in page and "stranger" in page
    assert _users(signin) == users
    assert _signed_in_as(signin) is None


def test_identity_maps_by_email_when_the_name_differs(signin: SignIn) -> None:
    signin.provider.add_user("a.lice", email="ALICE@example.org")
    assert signin.sign_in("a.lice").status_code == 302
    assert _signed_in_as(signin) == "alice"
    signin.client.post("/logout", data={"csrf_token": signin.csrf()})
    signin.provider.add_user("unverified", email="alice@example.org", email_verified=False)
    assert signin.sign_in("unverified").status_code == 403


def test_omename_claim_wins_over_preferred_username(signin: SignIn) -> None:
    signin.provider.add_user("lead-at-idp", omename="lead")
    assert signin.sign_in("lead-at-idp").status_code == 302
    assert _signed_in_as(signin) == "lead"


def test_logout_clears_session_and_signs_out_at_the_provider(signin: SignIn) -> None:
    assert signin.sign_in("demo").status_code == 302
    sid = signin.session_id()
    assert signin.redis.exists(KEY_PREFIX + str(sid))
    refused = signin.client.post("/logout")  # no CSRF token: refused, still signed in
    assert refused.status_code == 403 and _signed_in_as(signin) == "demo"
    res = signin.client.post("/logout", data={"csrf_token": signin.csrf()})
    assert res.status_code == 302
    assert res.headers["Location"] == f"{signin.provider.url}/logout"
    assert not signin.redis.exists(KEY_PREFIX + str(sid))
    assert signin.client.get("/account/tokens").status_code == 302  # back to sign-in


def test_login_page_offers_oidc_only_when_configured(signin: SignIn) -> None:
    page = signin.client.get("/login").get_data(as_text=True)
    assert 'id="sign-in-oidc"' in page and "/oidc/login" in page
    assert 'id="sign-in-dev"' not in page and 'id="sign-in-omero"' not in page


def test_oidc_not_configured(small_stack: SmallStack) -> None:
    from web import create_app

    client = create_app({"TESTING": True}, platform=small_stack.platform()).test_client()
    res = client.get("/oidc/login")
    assert res.status_code == 404 and "not configured" in res.get_json()["error"]
    assert client.get("/oidc/callback?code=x&state=y").status_code == 404
    assert 'id="sign-in-oidc"' not in client.get("/login").get_data(as_text=True)
