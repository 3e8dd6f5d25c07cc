"""Sign-in with sessions made by the real ``omero-web`` package, configured as deployed.

OMERO.web is configured the way its documentation says (``omero config set``):
``omero.web.session_engine=django.contrib.sessions.backends.cache`` and
``omero.web.caches`` = a django-redis default cache in a Redis db of its own with a
``KEY_PREFIX`` and ``VERSION``. platequeue finds those sessions through
``OMERO_WEB_REDIS_URL``, ``OMERO_WEB_CACHE_KEY_PREFIX`` and ``OMERO_WEB_CACHE_VERSION``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from platequeue.omero import websession
from tests.conftest import ROOT
from tests.web.conftest import SignIn
from tests.web.test_omero_signin import _me, _omero_session

pytest.importorskip("omeroweb", reason="needs omero-web (the omeroweb-test extra)")
pytest.importorskip("django_redis", reason="needs django-redis (the omeroweb-test extra)")

PREFIX, VERSION = "omeroweb", 3
HELPER = Path(__file__).with_name("omeroweb_session.py")


def _configure_omero_web(omerodir: Path, redis_url: str) -> None:
    """What ``omero config set`` does (it refuses to run as root, as CI does): write the
    keys into ``etc/grid/config.xml`` with omero-py's own ``ConfigXml``."""
    (omerodir / "etc" / "grid").mkdir(parents=True)
    (omerodir / "var" / "log").mkdir(parents=True)
    caches = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url,
                          "KEY_PREFIX": PREFIX, "VERSION": VERSION}}
    script = ("import sys\nfrom omero.config import ConfigXml\n"
              "cfg = ConfigXml(sys.argv[1])\n"
              "cfg['omero.web.session_engine'] = 'django.contrib.sessions.backends.cache'\n"
              "cfg['omero.web.caches'] = sys.argv[2]\ncfg.close()\n")
    subprocess.run([sys.executable, "-c", script, str(omerodir / "etc" / "grid" / "config.xml"),
                    json.dumps(caches)], check=True, capture_output=True, timeout=120)


def _omero_web_sign_in(omerodir: Path, omero_key: str, user_id: int) -> str:
    res = subprocess.run([sys.executable, str(HELPER), str(omerodir), omero_key, str(user_id)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "OMERODIR": str(omerodir)})
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1]


@pytest.fixture
def omero_web(tmp_path: Path, other_redis_url: str) -> tuple[Path, str]:
    omerodir = tmp_path / "omero-web"
    _configure_omero_web(omerodir, other_redis_url)
    return omerodir, other_redis_url


def test_signs_in_with_a_real_omero_web_session(signin_factory: object,
                                                omero_web: tuple[Path, str]) -> None:
    omerodir, web_redis_url = omero_web
    s: SignIn = signin_factory(OMERO_WEB_REDIS_URL=web_redis_url,  # type: ignore[operator]
                               OMERO_WEB_CACHE_KEY_PREFIX=PREFIX,
                               OMERO_WEB_CACHE_VERSION=str(VERSION))
    key = _omero_session(s, "demo")
    sessionid = _omero_web_sign_in(omerodir, key, user_id=2)

    # OMERO.web stored it in its own Redis db, under its prefix and version.
    web_redis = redis.Redis.from_url(web_redis_url)
    stored = web_redis.get(f"{PREFIX}:{VERSION}:django.contrib.sessions.cache{sessionid}")
    assert stored is not None
    assert s.redis.keys("*django.contrib.sessions*") == []  # nothing in the broker's db
    store = websession.SessionStore(web_redis, PREFIX, VERSION)
    parsed = websession.fetch_web_session(store, sessionid)
    assert parsed is not None and parsed.omero_session_key == key and parsed.user_id == 2

    s.client.set_cookie("sessionid", sessionid)
    assert _me(s) == "demo"


def test_default_settings_do_not_find_it(signin_factory: object,
                                          omero_web: tuple[Path, str]) -> None:
    """The settings matter: without them (broker Redis, no prefix) the cookie is not a
    sign-in; with the right Redis but the wrong version it is not either."""
    omerodir, web_redis_url = omero_web
    plain: SignIn = signin_factory()  # type: ignore[operator]
    sessionid = _omero_web_sign_in(omerodir, _omero_session(plain, "demo"), user_id=2)
    plain.client.set_cookie("sessionid", sessionid)
    assert _me(plain) is None
    wrong: SignIn = signin_factory(OMERO_WEB_REDIS_URL=web_redis_url,  # type: ignore[operator]
                                   OMERO_WEB_CACHE_KEY_PREFIX=PREFIX,
                                   OMERO_WEB_CACHE_VERSION=str(VERSION + 1))
    wrong.client.set_cookie("sessionid", sessionid)
    assert _me(wrong) is None
