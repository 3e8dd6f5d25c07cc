"""Server-side sessions in Redis: JSON under ``platequeue:session:<id>``, never pickle.

The browser only holds a random session id (cookie ``HttpOnly``, ``SameSite=Lax``,
``Secure`` in production, from the app's ``SESSION_COOKIE_*`` config). The data lives in
Redis with an idle time-to-live of ``settings.session_ttl`` seconds, renewed on each
request. :func:`rotate` gives a session a new id (every sign-in calls it, which defeats
session fixation); an id the server did not issue is never adopted.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from platequeue.platform import Platform

logger = logging.getLogger(__name__)

KEY_PREFIX = "platequeue:session:"
_SID = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


def new_sid() -> str:
    return secrets.token_urlsafe(32)


def redis_key(sid: str) -> str:
    return KEY_PREFIX + sid


class RedisSession(CallbackDict[str, Any], SessionMixin):
    """Session data plus its id; ``rotated_from`` is the id to delete on save."""

    def __init__(self, initial: dict[str, Any] | None = None, *, sid: str,
                 new: bool = False) -> None:
        def on_update(this: RedisSession) -> None:
            this.modified = True
            this.accessed = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.new = new
        self.modified = False
        self.accessed = False
        self.rotated_from: str | None = None

    def rotate(self) -> None:
        """Move the data to a fresh id; the old id stops working when the response is sent."""
        if not self.new and self.rotated_from is None:
            self.rotated_from = self.sid
        self.sid = new_sid()
        self.modified = True


def rotate(session: SessionMixin) -> None:
    """Give the current session a new id (no-op for other session implementations)."""
    if isinstance(session, RedisSession):
        session.rotate()


class RedisSessionInterface(SessionInterface):
    """Flask session interface storing JSON in Redis with a time-to-live."""

    def __init__(self, client: Callable[[], redis.Redis], ttl: int) -> None:
        self._client = client
        self.ttl = ttl

    def open_session(self, app: Flask, request: Request) -> RedisSession:
        sid = request.cookies.get(self.get_cookie_name(app), "")
        if _SID.match(sid):
            raw = self._client().get(redis_key(sid))
            data = _loads(raw) if raw is not None else None
            if data is not None:
                return RedisSession(data, sid=sid)
        return RedisSession(sid=new_sid(), new=True)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, RedisSession)
        client = self._client()
        name = self.get_cookie_name(app)
        cookie = {"domain": self.get_cookie_domain(app), "path": self.get_cookie_path(app),
                  "secure": self.get_cookie_secure(app), "httponly": self.get_cookie_httponly(app),
                  "samesite": self.get_cookie_samesite(app)}
        if session.accessed:
            response.vary.add("Cookie")
        if session.rotated_from is not None:
            client.delete(redis_key(session.rotated_from))
        if not session:
            if not session.new:
                client.delete(redis_key(session.sid))
            if session.modified or session.rotated_from is not None:
                response.delete_cookie(name, **cookie)  # type: ignore[arg-type]
            return
        if session.modified or session.new:
            client.set(redis_key(session.sid), json.dumps(dict(session)), ex=self.ttl)
            response.set_cookie(name, session.sid, **cookie)  # type: ignore[arg-type]
        else:
            client.expire(redis_key(session.sid), self.ttl)


def _loads(raw: Any) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        logger.warning("unreadable session record ignored")
        return None
    return data if isinstance(data, dict) else None


def init_app(app: Flask, platform: Platform) -> None:
    """Install the Redis session interface for *platform*'s Redis and session TTL."""
    app.session_interface = RedisSessionInterface(lambda: platform.redis,
                                                  platform.settings.session_ttl)
