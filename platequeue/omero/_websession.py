"""Reuse an OMERO.web session: read it from Redis without unpickling, then check it.

With ``omero.web.session_engine=django.contrib.sessions.backends.cache`` and
django-redis, OMERO.web keeps each session under
``<KEY_PREFIX>:<VERSION>:django.contrib.sessions.cache<sessionid cookie>`` (the
``KEY_PREFIX``/``VERSION`` of its ``omero.web.caches`` default cache; django's defaults
give ``:1:django.contrib.sessions.cache<id>``) as a pickled dict whose
``connector`` (a dict, or an old ``omeroweb.connector.Connector`` object) holds
``omero_session_key``, ``user_id``, ``server_id``, ``is_secure``, ``is_public``.

Unpickling attacker-reachable bytes executes code, so :func:`parse_session_pickle`
only walks the opcodes (``pickletools.genops``) and picks out the value that
follows each wanted key, as omero-ms-core does.  Nothing is ever imported,
called or constructed.

Where a request names a session: header ``X-OMERO-Session-Key`` first, then the
``bsession`` parameter (both carry an OMERO session key), then the OMERO.web
``sessionid`` cookie (looked up in Redis).  Keys are then validated against
OMERO's ``session`` table (:func:`validate_session_key`).
"""

from __future__ import annotations

import logging
import pickletools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

SESSION_KEY_PREFIX = "django.contrib.sessions.cache"  # django's cache session backend
KEY_PREFIX = f":1:{SESSION_KEY_PREFIX}"  # with django's default cache KEY_PREFIX and VERSION
FIELDS = ("omero_session_key", "user_id", "server_id", "is_secure", "is_public")
HEADER = "X-OMERO-Session-Key"
PARAM = "bsession"
COOKIE = "sessionid"

_SESSIONID = re.compile(r"^[a-z0-9]{8,64}$")
_OMERO_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")
_STRING_OPS = {"UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "STRING",
               "BINSTRING", "SHORT_BINSTRING"}
_INT_OPS = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_MISSING = object()


class RedisLike(Protocol):
    def get(self, name: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class WebSession:
    """What OMERO.web's connector knows about a signed-in browser."""

    omero_session_key: str
    user_id: int | None
    server_id: str | None
    is_secure: bool | None
    is_public: bool | None


@dataclass(frozen=True, slots=True)
class SessionCandidate:
    """Where a request named a session: ``kind`` is "header", "bsession" or "cookie"."""

    kind: str
    value: str

    @property
    def is_omero_key(self) -> bool:
        return self.kind in {"header", "bsession"}


@dataclass(frozen=True, slots=True)
class OmeroSession:
    """A live row of OMERO's ``session`` table."""

    id: int
    uuid: str
    owner_id: int


def _scalar(name: str, arg: Any) -> Any:
    """The Python value a value-pushing opcode carries, or _MISSING."""
    if name in _STRING_OPS:
        return arg.decode("latin-1") if isinstance(arg, bytes) else arg
    if name in _INT_OPS:
        if isinstance(arg, bool):  # protocol 0 bools are INT 01/00
            return arg
        return int(arg)
    if name == "NEWTRUE":
        return True
    if name == "NEWFALSE":
        return False
    if name == "NONE":
        return None
    return _MISSING


def parse_session_pickle(data: bytes) -> WebSession | None:
    """Extract the connector fields from a pickled Django session, never unpickling.

    Returns ``None`` when the bytes are not a pickle or hold no session key.
    """
    if not isinstance(data, bytes | bytearray) or not data:
        return None
    memo: dict[int, Any] = {}
    found: dict[str, Any] = {}
    last: Any = _MISSING
    pending: str | None = None
    try:
        for op, arg, _pos in pickletools.genops(bytes(data)):
            name = op.name
            if name in _PUT_OPS or name == "MEMOIZE":
                memo[len(memo) if name == "MEMOIZE" else int(str(arg))] = last
                continue
            if name in {"FRAME", "PROTO", "STOP"}:
                continue
            value = (memo.get(int(str(arg)), _MISSING) if name in _GET_OPS
                     else _scalar(name, arg))
            last = value
            if value is _MISSING:  # a container, global, call...: not a field value
                pending = None
                continue
            if pending is not None:
                found.setdefault(pending, value)
                pending = None
            elif isinstance(value, str) and value in FIELDS and value not in found:
                pending = value
    except (ValueError, EOFError, KeyError, OverflowError) as exc:
        logger.warning("unreadable OMERO.web session pickle: %s", exc)
        return None
    key = found.get("omero_session_key")
    if not isinstance(key, str) or not _OMERO_KEY.match(key):
        return None
    user = found.get("user_id")
    server = found.get("server_id")
    return WebSession(
        omero_session_key=key,
        user_id=user if isinstance(user, int) and not isinstance(user, bool) else None,
        server_id=None if server is None else str(server),
        is_secure=found.get("is_secure") if isinstance(found.get("is_secure"), bool) else None,
        is_public=found.get("is_public") if isinstance(found.get("is_public"), bool) else None,
    )


@dataclass(frozen=True, slots=True)
class SessionStore:
    """Where OMERO.web's sessions are: a Redis and the django cache ``KEY_PREFIX`` and
    ``VERSION`` of the cache its cache session engine uses."""

    redis: RedisLike
    key_prefix: str = ""
    version: int = 1

    def key(self, sessionid: str) -> str:
        """django's ``make_key``: ``<prefix>:<version>:<key>``."""
        return f"{self.key_prefix}:{self.version}:{SESSION_KEY_PREFIX}{sessionid}"


def fetch_web_session(store: SessionStore | RedisLike, sessionid: str) -> WebSession | None:
    """Look up OMERO.web session *sessionid* and parse it (no unpickling).

    *store* is a :class:`SessionStore`, or a bare Redis client for django's defaults.
    """
    if not _SESSIONID.match(sessionid or ""):
        logger.info("rejected malformed OMERO.web session id")
        return None
    if not isinstance(store, SessionStore):
        store = SessionStore(store)
    raw = store.redis.get(store.key(sessionid))
    if raw is None:
        return None
    return parse_session_pickle(raw if isinstance(raw, bytes) else str(raw).encode())


def pick_session(
    headers: Mapping[str, str], params: Mapping[str, str], cookies: Mapping[str, str],
    *, cookie_name: str = COOKIE,
) -> SessionCandidate | None:
    """Header ``X-OMERO-Session-Key``, then ``bsession``, then the web session cookie."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for kind, value in (("header", lowered.get(HEADER.lower())), ("bsession", params.get(PARAM)),
                        ("cookie", cookies.get(cookie_name))):
        if value:
            return SessionCandidate(kind, value.strip())
    return None


def validate_session_key(
    engine: Engine, key: str, *, now: datetime | None = None
) -> OmeroSession | None:
    """The OMERO ``session`` row for *key* if it is open and neither expired nor idle.

    ``timetolive``/``timetoidle`` are milliseconds (0 = unlimited).  OMERO keeps
    last access in memory, so idleness is judged from the session's latest
    ``event`` (or its start); the OMERO server stays the final authority.
    """
    if not _OMERO_KEY.match(key or ""):
        return None
    now = now or datetime.now()
    sql = ('SELECT s.id, s.uuid, s.owner, s.started, s.closed, s.timetoidle, s.timetolive, '
           '(SELECT max(e.time) FROM event e WHERE e."session" = s.id) AS last_event '
           "FROM session s WHERE s.uuid = :key")
    with engine.connect() as conn:
        row = conn.execute(text(sql), {"key": key}).mappings().first()
    if row is None or row["closed"] is not None:
        return None
    started: datetime = _as_dt(row["started"])
    if row["timetolive"] and now > started + timedelta(milliseconds=int(row["timetolive"])):
        return None
    last = max(started, _as_dt(row["last_event"])) if row["last_event"] else started
    if row["timetoidle"] and now > last + timedelta(milliseconds=int(row["timetoidle"])):
        return None
    return OmeroSession(id=int(row["id"]), uuid=str(row["uuid"]), owner_id=int(row["owner"]))


def _as_dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def resolve_request_session(
    headers: Mapping[str, str], params: Mapping[str, str], cookies: Mapping[str, str],
    *, redis: SessionStore | RedisLike, engine: Engine, now: datetime | None = None,
) -> OmeroSession | None:
    """Find the session a request names (precedence as OMERO) and validate it."""
    cand = pick_session(headers, params, cookies)
    if cand is None:
        return None
    key = cand.value
    if not cand.is_omero_key:
        web = fetch_web_session(redis, cand.value)
        if web is None:
            return None
        key = web.omero_session_key
    return validate_session_key(engine, key, now=now)
