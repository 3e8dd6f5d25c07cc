"""Sign-in from an OMERO.web session (cookie, header, ``bsession``) and with an OMERO password."""

from __future__ import annotations

import json
import os
import pickle
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from platequeue.omero._websession import KEY_PREFIX as DJANGO_PREFIX
from tests.web.conftest import SignIn
from web.sessions import KEY_PREFIX


def _omero_session(s: SignIn, omename: str, *, age: timedelta = timedelta(0),
                   ttl_ms: int = 0, tti_ms: int = 600_000, closed: bool = False) -> str:
    """A row in OMERO's ``session`` table for *omename*; returns its key (uuid)."""
    key = str(uuid.uuid4())
    started = datetime.now() - age
    with s.platform.omero.begin() as conn:
        owner = conn.execute(text("SELECT id FROM experimenter WHERE omename = :n"),
                             {"n": omename}).scalar_one()
        sid = conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM session")).scalar_one()
        conn.execute(text(
            "INSERT INTO session (id, defaulteventtype, permissions, started, timetoidle, "
            "timetolive, uuid, node, owner, closed) VALUES (:id, 'User', -120, :started, "
            ":tti, :ttl, :uuid, 0, :owner, :closed)"),
            {"id": sid, "started": started, "tti": tti_ms, "ttl": ttl_ms, "uuid": key,
             "owner": owner, "closed": started + timedelta(seconds=1) if closed else None})
    return key


def _web_cookie(s: SignIn, omero_key: str, user_id: int = 2) -> str:
    """Store an OMERO.web session the way django-redis does; returns the ``sessionid``."""
    sessionid = secrets.token_hex(16)
    connector: dict[str, Any] = {"server_id": 1, "user_id": user_id,
                                 "omero_session_key": omero_key, "is_secure": False,
                                 "is_public": False}
    data = {"connector": connector, "_auth_user_id": "x", "active_group": 3}
    s.redis.set(DJANGO_PREFIX + sessionid, pickle.dumps(data, protocol=4), ex=600)
    return sessionid


def _record(s: SignIn) -> dict[str, Any]:
    cookie = s.client.get_cookie("session")
    assert cookie is not None
    raw = s.redis.get(KEY_PREFIX + cookie.value)
    assert raw is not None
    data: dict[str, Any] = json.loads(raw)
    return data


def _me(s: SignIn, **kwargs: Any) -> str | None:
    """Who the API thinks is asking (None when anonymous)."""
    res = s.client.get("/api/me", **kwargs)
    return str(res.get_json()["omename"]) if res.status_code == 200 else None


def test_omero_web_cookie_signs_in_and_keeps_the_key(signin: SignIn) -> None:
    key = _omero_session(signin, "alice")
    signin.client.set_cookie("sessionid", _web_cookie(signin, key))
    assert _me(signin) == "alice"
    record = _record(signin)
    assert record["omero"] == {"key": key} and record["user"]["via"] == "omero-cookie"
    # the API sees the same identity; a POST still needs the CSRF token
    assert signin.client.get("/api/runs").status_code == 200
    assert signin.client.post("/account/tokens", data={"name": "x"}).status_code == 403


def test_bsession_parameter_signs_in(signin: SignIn) -> None:
    key = _omero_session(signin, "demo")
    res = signin.client.get("/account/tokens", query_string={"bsession": key, "a": "1"})
    # signed in, and the key leaves the address bar at once (other parameters stay)
    assert res.status_code == 303 and res.headers["Location"] == "/account/tokens?a=1"
    assert res.headers["Referrer-Policy"] == "no-referrer"
    assert _record(signin)["omero"] == {"key": key}
    assert signin.client.get("/account/tokens").status_code == 200
    assert _me(signin) == "demo"
    assert signin.client.get("/api/runs").status_code == 200  # the cookie session carries on


def test_header_authenticates_the_request_only(signin: SignIn) -> None:
    key = _omero_session(signin, "demo")
    res = signin.client.get("/api/runs", headers={"X-OMERO-Session-Key": key})
    assert res.status_code == 200
    assert "session=" not in res.headers.get("Set-Cookie", ""), "no cookie session for a header"
    assert signin.client.get("/api/runs").status_code == 401


@pytest.mark.parametrize("how", ["header", "bsession"])
@pytest.mark.parametrize("state", ["closed", "expired", "idle", "unknown"])
def test_closed_or_expired_omero_session_refused(signin: SignIn, how: str, state: str) -> None:
    if state == "unknown":
        key = str(uuid.uuid4())
    else:
        key = _omero_session(signin, "demo", closed=state == "closed",
                             age=timedelta(hours=2) if state != "closed" else timedelta(0),
                             ttl_ms=3_600_000 if state == "expired" else 0,
                             tti_ms=600_000 if state == "idle" else 0)
    kwargs: dict[str, Any] = ({"headers": {"X-OMERO-Session-Key": key}} if how == "header"
                              else {"query_string": {"bsession": key}})
    res = signin.client.get("/api/runs", **kwargs)
    assert res.status_code == 401 and "OMERO session" in res.get_json()["error"]
    assert signin.client.get("/api/runs").status_code == 401


def test_cookie_for_a_closed_session_is_not_a_sign_in(signin: SignIn) -> None:
    key = _omero_session(signin, "demo", closed=True)
    signin.client.set_cookie("sessionid", _web_cookie(signin, key))
    assert signin.client.get("/api/runs").status_code == 401
    assert signin.client.get("/account/tokens").status_code == 302  # sign-in page, no error
    signin.client.set_cookie("sessionid", "not-a-session-id")
    assert signin.client.get("/api/runs").status_code == 401


def test_a_named_session_replaces_a_signed_in_one_after_confirmation(signin: SignIn) -> None:
    assert signin.sign_in("demo").status_code == 302
    key = _omero_session(signin, "alice")
    res = signin.client.get("/account/tokens", query_string={"bsession": key})
    assert res.status_code == 303 and res.headers["Location"] == "/login/switch"
    assert _me(signin) == "demo"  # nothing switched yet
    page = signin.client.get("/login/switch").get_data(as_text=True)
    assert '<b id="switch-to">alice</b>' in page
    res = signin.client.post("/login/switch", data={"confirm": "yes",
                                                    "csrf_token": signin.csrf()})
    assert res.status_code == 303 and res.headers["Location"] == "/account/tokens"
    assert _record(signin)["omero"] == {"key": key}
    assert _me(signin) == "alice"


def test_omero_password_not_offered_without_omero_host(signin: SignIn) -> None:
    assert 'id="sign-in-omero"' not in signin.client.get("/login").get_data(as_text=True)
    with signin.client.session_transaction() as sess:
        sess["csrf"] = "known"
    res = signin.client.post("/login/omero", data={"username": "demo", "password": "x",
                                                   "csrf_token": "known"})
    assert res.status_code == 404 and "OMERO_HOST is unset" in res.get_json()["error"]


def test_omero_password_without_omero_py_says_so(signin_factory: Any) -> None:
    try:
        import omero.gateway  # noqa: F401
        pytest.skip("omero-py is installed; see test_omero_password_against_a_server")
    except ImportError:
        pass
    s = signin_factory(OMERO_HOST="127.0.0.1", OMERO_PORT="1")
    assert 'id="sign-in-omero"' in s.client.get("/login").get_data(as_text=True)
    res = s.client.post("/login/omero", data={"username": "demo", "password": "pw",
                                              "csrf_token": s.csrf()})
    assert res.status_code == 503 and "omero-py is not installed" in res.get_data(as_text=True)
    assert s.client.get("/api/runs").status_code == 401


@pytest.mark.skipif(not (os.environ.get("OMERO_HOST") and os.environ.get("OMERO_TEST_USER")
                         and os.environ.get("OMERO_TEST_PASSWORD")),
                    reason="needs a real OMERO server: OMERO_HOST, OMERO_TEST_USER, "
                           "OMERO_TEST_PASSWORD")
def test_omero_password_against_a_server() -> None:
    from web.omero_login import password_session

    host = os.environ["OMERO_HOST"]
    port = int(os.environ.get("OMERO_PORT", "4064"))
    found = password_session(host, port, os.environ["OMERO_TEST_USER"],
                             os.environ["OMERO_TEST_PASSWORD"])
    assert found is not None and found.omename == os.environ["OMERO_TEST_USER"]
    assert len(found.session_key) >= 8
    assert password_session(host, port, os.environ["OMERO_TEST_USER"], "wrong-password") is None


def _demo_plate(s: SignIn) -> int:
    demo = s.platform.catalog.find_user("demo")
    assert demo is not None
    return s.platform.catalog.plates_for_user(demo.id)[0].id


def test_runs_submitted_from_omero_carry_the_session(signin: SignIn) -> None:
    """What the write-back and the keep-alive need: a run submitted by a user who came from
    OMERO carries their OMERO session key (in Redis); one from OIDC carries none."""
    from platequeue.omero import keepalive

    body = {"plate_id": _demo_plate(signin), "pipeline": "nuclei-count"}
    key = _omero_session(signin, "demo")
    signin.client.set_cookie("sessionid", _web_cookie(signin, key))
    assert _me(signin) == "demo"
    res = signin.client.post("/api/runs", json=body, headers={"X-CSRF-Token": signin.csrf()})
    assert res.status_code == 201, res.get_json()
    carried = keepalive.lookup(signin.redis, res.get_json()["run_id"])
    assert carried is not None and carried.key == key and not carried.opened_by_platform

    # the one-request header and the bsession parameter work on the API too
    other = signin.app.test_client()
    key2 = _omero_session(signin, "demo")
    res = other.post("/api/runs", json=body, headers={"X-OMERO-Session-Key": key2})
    assert res.status_code == 201, res.get_json()
    assert keepalive.lookup(signin.redis, res.get_json()["run_id"]).key == key2  # type: ignore[union-attr]
    res = other.get("/api/runs", query_string={"bsession": key2})
    assert res.status_code == 303 and res.headers["Location"] == "/api/runs"
    assert other.get("/api/runs").status_code == 200  # signed in by the link

    fresh = signin.app.test_client()
    signin.client = fresh
    signin.sign_in("demo")  # OIDC: no OMERO session to carry
    res = fresh.post("/api/runs", json=body, headers={"X-CSRF-Token": signin.csrf()})
    assert res.status_code == 201, res.get_json()
    assert keepalive.lookup(signin.redis, res.get_json()["run_id"]) is None
