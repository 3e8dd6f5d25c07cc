from __future__ import annotations

import pickle
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from platequeue.demo import FixtureBuilder
from platequeue.omero._websession import (
    KEY_PREFIX,
    WebSession,
    fetch_web_session,
    parse_session_pickle,
    pick_session,
    resolve_request_session,
    validate_session_key,
)

KEY = "2d3c9f0e-8a51-4c6b-9f1e-0123456789ab"


class Connector:  # shaped like omeroweb.connector.Connector (old session form)
    def __init__(self) -> None:
        self.server_id = "1"
        self.is_secure = True
        self.user_id = 52
        self.omero_session_key = KEY
        self.is_public = False


def _session(connector: Any) -> dict[str, Any]:
    return {"_auth_user_id": "x", "connector": connector, "server_settings": {"ui": {"x": 1}},
            "active_group": 3, "_session_expiry": 86400}


DICT_CONNECTOR = {"server_id": 1, "user_id": 52, "omero_session_key": KEY, "is_secure": True,
                  "is_public": False}


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("form", ["dict", "object"])
def test_parse_django_redis_pickles(protocol: int, form: str) -> None:
    conn = dict(DICT_CONNECTOR) if form == "dict" else Connector()
    data = pickle.dumps(_session(conn), protocol=protocol)
    ws = parse_session_pickle(data)
    assert ws == WebSession(omero_session_key=KEY, user_id=52, server_id="1", is_secure=True,
                            is_public=False)


class Evil:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


class EvilSystem:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_hostile_pickles_never_execute(tmp_path: Path, protocol: int) -> None:
    for cls in (Evil, EvilSystem):
        marker = tmp_path / f"pwned_{cls.__name__}_{protocol}"
        payload = {"connector": {**DICT_CONNECTOR, "extra": cls(marker)}, "x": cls(marker)}
        data = pickle.dumps(payload, protocol=protocol)
        ws = parse_session_pickle(data)
        assert not marker.exists()
        assert ws is not None and ws.omero_session_key == KEY
        bare = pickle.dumps(cls(marker), protocol=protocol)
        assert parse_session_pickle(bare) is None
        assert not marker.exists()


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x80\x05\x95", b"\x80\x04K\x01",
                                  pickle.dumps({"omero_session_key": "bad key; drop"}),
                                  pickle.dumps({"omero_session_key": 5})])
def test_bad_pickles(data: bytes) -> None:
    assert parse_session_pickle(data) is None


def test_field_value_not_taken_from_container() -> None:
    data = pickle.dumps({"user_id": [1, 2], "omero_session_key": KEY}, protocol=5)
    ws = parse_session_pickle(data)
    assert ws is not None and ws.user_id is None


def test_precedence() -> None:
    both = pick_session({"x-omero-session-key": "h"}, {"bsession": "b"}, {"sessionid": "c"})
    assert both is not None and (both.kind, both.value, both.is_omero_key) == ("header", "h", True)
    b = pick_session({}, {"bsession": "b"}, {"sessionid": "c"})
    assert b is not None and b.kind == "bsession"
    c = pick_session({}, {}, {"sessionid": "c"})
    assert c is not None and c.kind == "cookie" and not c.is_omero_key
    assert pick_session({}, {}, {}) is None


class FakeRedis:
    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = data

    def get(self, name: str) -> bytes | None:
        return self.data.get(name)


def test_fetch_web_session_fake() -> None:
    sid = "abcdef0123456789abcdef0123456789"
    r = FakeRedis({KEY_PREFIX + sid: pickle.dumps(_session(DICT_CONNECTOR), protocol=5)})
    ws = fetch_web_session(r, sid)
    assert ws is not None and ws.omero_session_key == KEY
    assert fetch_web_session(r, "0" * 32) is None
    assert fetch_web_session(r, "../../x") is None


def test_real_redis_round_trip() -> None:
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379, db=13, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no redis at 127.0.0.1:6379")
    sid = "pqtest" + secrets.token_hex(13)
    key = KEY_PREFIX + sid
    try:
        client.set(key, pickle.dumps(_session(Connector()), protocol=pickle.HIGHEST_PROTOCOL),
                   ex=60)
        ws = fetch_web_session(client, sid)
        assert ws is not None and (ws.omero_session_key, ws.user_id) == (KEY, 52)
    finally:
        client.delete(key)
        client.close()


def _add_session(b: FixtureBuilder, uid: int, key: str, *, started: datetime,
                 ttl: int = 0, tti: int = 0, closed: datetime | None = None) -> int:
    sid = b.new_id("session")
    b.insert({"session": [{"id": sid, "defaulteventtype": "User", "permissions": -120,
                           "started": started, "timetoidle": tti, "timetolive": ttl,
                           "uuid": key, "node": 0, "owner": uid, "closed": closed}]})
    return sid


def test_validate_against_session_table(engine: Engine, tmp_path: Path) -> None:
    b = FixtureBuilder(engine, tmp_path)
    b.bootstrap()
    uid = b.add_user("web")
    t0 = datetime(2024, 5, 1, 12, 0, 0)
    _add_session(b, uid, KEY, started=t0, ttl=3_600_000, tti=600_000)
    _add_session(b, uid, "closed-0000-key", started=t0, closed=t0 + timedelta(minutes=1))
    _add_session(b, uid, "forever-000-key", started=t0)
    ok = validate_session_key(engine, KEY, now=t0 + timedelta(minutes=5))
    assert ok is not None and ok.owner_id == uid
    assert validate_session_key(engine, KEY, now=t0 + timedelta(minutes=11)) is None  # idle
    assert validate_session_key(engine, KEY, now=t0 + timedelta(hours=2)) is None  # ttl
    assert validate_session_key(engine, "closed-0000-key", now=t0) is None
    assert validate_session_key(engine, "forever-000-key", now=t0 + timedelta(days=9))
    assert validate_session_key(engine, "nope-nope-nope", now=t0) is None
    assert validate_session_key(engine, "x' OR '1'='1", now=t0) is None
    sid = "abcdef0123456789abcdef0123456789"
    r = FakeRedis({KEY_PREFIX + sid: pickle.dumps(_session(DICT_CONNECTOR), protocol=2)})
    now = t0 + timedelta(minutes=1)
    got = resolve_request_session({}, {}, {"sessionid": sid}, redis=r, engine=engine, now=now)
    assert got is not None and got.uuid == KEY
    got = resolve_request_session({"X-OMERO-Session-Key": "forever-000-key"}, {},
                                  {"sessionid": sid}, redis=r, engine=engine, now=now)
    assert got is not None and got.uuid == "forever-000-key"
    assert resolve_request_session({}, {}, {}, redis=r, engine=engine) is None
