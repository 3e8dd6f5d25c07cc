"""Where OMERO.web's sessions are: django's cache key layout and the settings naming it."""

from __future__ import annotations

import pickle
import secrets

import pytest
import redis

from platequeue.omero import websession
from platequeue.settings import SettingsError, load_settings


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("unpickled!",))


def test_default_store_is_djangos_default_layout() -> None:
    assert websession.SessionStore(None).key("abc12345") == websession.KEY_PREFIX + "abc12345"  # type: ignore[arg-type]
    assert websession.KEY_PREFIX == ":1:django.contrib.sessions.cache"
    store = websession.SessionStore(None, "omeroweb", 4)  # type: ignore[arg-type]
    assert store.key("abc12345") == "omeroweb:4:django.contrib.sessions.cache" + "abc12345"


def test_settings_default_to_todays_behaviour(tmp_path: object) -> None:
    s = load_settings({"PLATEQUEUE_HOME": str(tmp_path)})
    assert (s.omero_web_redis_url, s.omero_web_cache_prefix, s.omero_web_cache_version) == (
        None, "", 1)
    s = load_settings({"PLATEQUEUE_HOME": str(tmp_path),
                       "OMERO_WEB_REDIS_URL": "redis://web-redis:6379/2",
                       "OMERO_WEB_CACHE_KEY_PREFIX": "omeroweb",
                       "OMERO_WEB_CACHE_VERSION": "2"})
    assert (s.omero_web_redis_url, s.omero_web_cache_prefix, s.omero_web_cache_version) == (
        "redis://web-redis:6379/2", "omeroweb", 2)


@pytest.mark.parametrize(("name", "value"), [("OMERO_WEB_REDIS_URL", "http://x"),
                                             ("OMERO_WEB_CACHE_VERSION", "zero"),
                                             ("OMERO_WEB_CACHE_VERSION", "0")])
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_hostile_pickle_under_a_prefix_is_not_executed(redis_url: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    r = redis.Redis.from_url(redis_url)
    store = websession.SessionStore(r, "omeroweb", 2)
    sid = secrets.token_hex(16)
    data = {"connector": {"omero_session_key": "0f3c1a2b-aaaa-bbbb-cccc-1234567890ab"},
            "boom": Evil()}
    r.set(store.key(sid), pickle.dumps(data, protocol=4))
    ws = websession.fetch_web_session(store, sid)
    assert ws is not None and ws.omero_session_key == "0f3c1a2b-aaaa-bbbb-cccc-1234567890ab"
    assert "unpickled!" not in capsys.readouterr().out
    # django's default layout is another key
    assert websession.fetch_web_session(websession.SessionStore(r), sid) is None
