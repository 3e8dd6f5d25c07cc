"""Attacks on sign-in: open redirects through ``next``, e-mail identities the provider never
verified, session keys left in URLs and logs, and login CSRF through ``bsession`` links."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platequeue.testing import served
from tests.web.conftest import SignIn
from tests.web.test_omero_signin import _me, _omero_session
from web.redirects import RedactFilter, install_log_redaction, safe_next

BASE = "https://platequeue.example/"


def _next_after_sign_in(s: SignIn, next_value: str) -> str:
    res = s.callback(s.provider.authorize(s.start(next=next_value), "demo"))
    assert res.status_code == 302, res.get_data(as_text=True)
    return str(res.headers["Location"])


def _same_origin(location: str) -> bool:
    return urlsplit(urljoin(BASE, location)).netloc == urlsplit(BASE).netloc


def test_oidc_next_tab_open_redirect(signin: SignIn) -> None:
    # /%09/evil.example/ arrives as "/<TAB>/evil.example/": a browser drops the tab
    location = _next_after_sign_in(signin, "/\t/evil.example/")
    assert location == "/runs"


@pytest.mark.parametrize("value", ["/\\evil.example/", "\\\\evil.example/", "/\\/evil.example",
                                   "\\/evil.example"])
def test_oidc_next_backslash_open_redirect(signin: SignIn, value: str) -> None:
    assert _next_after_sign_in(signin, value) == "/runs"


@pytest.mark.parametrize("value", ["/\n/evil.example", "/\r\n/evil.example", "\n//evil.example",
                                   "/\x00/evil.example", " //evil.example", "\x01//evil.example"])
def test_oidc_next_control_character_open_redirect(signin: SignIn, value: str) -> None:
    if "\x00" in value:  # refused before anything else (422), so never followed either
        assert signin.client.get("/oidc/login", query_string={"next": value}).status_code == 422
        return
    location = _next_after_sign_in(signin, value)  # and never a 500 for a newline
    assert _same_origin(location) and "\n" not in location


@pytest.mark.parametrize("value", ["https://evil.example/", "//evil.example/",
                                   "javascript:alert(1)", "HTTPS:evil.example", "evil.example"])
def test_oidc_next_foreign_url_open_redirect(signin: SignIn, value: str) -> None:
    assert _next_after_sign_in(signin, value) == "/runs"


def test_oidc_next_same_origin_path_still_followed(signin: SignIn) -> None:
    assert _next_after_sign_in(signin, "/runs/1/results?feature=count") == \
        "/runs/1/results?feature=count"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("/\\\t\n\r :.%@?#ae\x00\x0b\x1f")), max_size=12))
def test_safe_next_never_leaves_the_origin(value: str) -> None:
    """Whatever is accepted stays on this host once a browser resolves it."""
    found = safe_next(value)
    if found is not None:
        assert _same_origin(found), (value, found)
        assert not any(c in found for c in "\t\n\r\\")


def test_oidc_unverified_email_signs_in_as_admin(signin: SignIn) -> None:
    signin.provider.add_user("mallory", email="facility@example.org", email_verified=False)
    assert signin.sign_in("mallory").status_code == 403
    assert _me(signin) is None


@pytest.mark.parametrize("verified", ["missing", "string-true", "one"])
def test_oidc_email_without_verified_true_signs_in_as_admin(signin: SignIn,
                                                           verified: str) -> None:
    user = signin.provider.add_user("mallory", email="facility@example.org")
    if verified == "missing":
        del user.claims["email_verified"]
    else:
        user.claims["email_verified"] = "true" if verified == "string-true" else 1
    assert signin.sign_in("mallory").status_code == 403
    assert _me(signin) is None


def test_oidc_email_mapping_off_refuses_verified_email(
        signin_factory: Callable[..., SignIn]) -> None:
    s = signin_factory(OAUTH_EMAIL_MAPPING="false")
    s.provider.add_user("a.lice", email="alice@example.org")  # verified, name differs
    assert s.sign_in("a.lice").status_code == 403
    assert _me(s) is None
    assert s.sign_in("demo").status_code == 302  # the user name still maps


def test_bsession_left_in_address_bar(signin: SignIn) -> None:
    key = _omero_session(signin, "demo")
    res = signin.client.get("/plates", query_string={"q": "x", "bsession": key})
    assert res.status_code == 303
    assert key not in res.headers["Location"] and res.headers["Location"] == "/plates?q=x"
    assert res.headers["Cache-Control"] == "no-store"
    assert _me(signin) == "demo"


def test_bsession_in_werkzeug_access_log(signin: SignIn,
                                         caplog: pytest.LogCaptureFixture) -> None:
    import requests

    key = _omero_session(signin, "demo")
    with caplog.at_level(logging.INFO, logger="werkzeug"), served(signin.app) as url:
        res = requests.get(f"{url}/plates?bsession={key}", allow_redirects=False, timeout=30)
    assert res.status_code == 303
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("bsession=[redacted]" in line for line in lines), lines
    assert not any(key in line for line in lines), lines


def test_bsession_in_our_log_lines() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_redaction()
        assert any(isinstance(f, RedactFilter) for f in handler.filters)
        logging.getLogger("web.oidc").warning("came from %s with X-OMERO-Session-Key: %s",
                                              "/x?bsession=abc-123&y=1", "def-456")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "abc-123" not in text and "def-456" not in text
    assert "bsession=[redacted]&y=1" in text


def test_bsession_for_another_user_switches_silently(signin: SignIn) -> None:
    """Login CSRF: a link carrying the attacker's OMERO session must not sign the victim
    in as the attacker without asking."""
    assert signin.sign_in("demo").status_code == 302
    attacker = _omero_session(signin, "outsider")
    res = signin.client.get("/submit", query_string={"bsession": attacker})
    assert res.status_code == 303 and res.headers["Location"] == "/login/switch"
    assert _me(signin) == "demo"
    page = signin.client.get("/login/switch").get_data(as_text=True)
    assert "outsider" in page and attacker not in page
    # declining keeps the victim; a forged POST (no CSRF token) switches nothing either
    assert signin.client.post("/login/switch", data={"confirm": "yes"}).status_code == 403
    assert _me(signin) == "demo"
    assert signin.client.post("/login/switch", data={
        "confirm": "no", "csrf_token": signin.csrf()}).status_code == 303
    assert _me(signin) == "demo"
    assert signin.client.get("/login/switch").status_code == 404  # nothing pending now


def test_bsession_switch_rechecks_the_key(signin: SignIn) -> None:
    from sqlalchemy import text

    assert signin.sign_in("demo").status_code == 302
    attacker = _omero_session(signin, "outsider")
    signin.client.get("/plates", query_string={"bsession": attacker})
    with signin.platform.omero.begin() as conn:  # the session closes before the click
        conn.execute(text("UPDATE session SET closed = started WHERE uuid = :k"),
                     {"k": attacker})
    res = signin.client.post("/login/switch", data={"confirm": "yes",
                                                    "csrf_token": signin.csrf()})
    assert res.status_code == 401 and _me(signin) == "demo"
