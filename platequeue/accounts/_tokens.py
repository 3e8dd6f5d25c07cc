"""API tokens: random, shown once, stored as SHA-256, scoped (read/submit), expiring."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import select

from platequeue.platform import Platform
from platequeue.store import ApiToken, User, session_scope, utcnow

log = logging.getLogger(__name__)

PREFIX = "pq_"
SCOPES = ("read", "submit")
MAX_DAYS = 365


@dataclass(frozen=True)
class TokenInfo:
    """What a token list shows: never the token, which only its creator saw, once."""

    id: int
    name: str
    scope: str
    created_at: datetime
    expires_at: datetime
    revoked: bool

    @property
    def active(self) -> bool:
        return not self.revoked and self.expires_at > utcnow()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(platform: Platform, user_id: int, *, name: str, scope: str, days: int) -> str:
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} must be one of {SCOPES}")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days={days} must be between 1 and {MAX_DAYS}")
    name = name.strip()
    if not name or len(name) > 128:
        raise ValueError("a token needs a name of 1 to 128 characters")
    token = PREFIX + secrets.token_urlsafe(32)
    with session_scope(platform.audit) as s:
        s.add(ApiToken(user_id=user_id, name=name, token_hash=digest(token), scopes=scope,
                       expires_at=utcnow() + timedelta(days=days)))
    return token


# Token lookups are cached per process for a few seconds, and only while the revocation
# epoch in Redis is unchanged: a revoke anywhere bumps it, and every process reads the
# epoch at least once a second, so a revoked token stops working everywhere within a
# second of the revoke. Expiry is checked on every call.
CACHE_TTL_S = 10.0
EPOCH_KEY = "platequeue:tokens:epoch"
_cache: dict[str, tuple[float, bytes | None, User, str, datetime]] = {}
_cache_lock = threading.Lock()


EPOCH_READ_S = 1.0  # a revoke in another process is honoured within this (and the commit)
_epoch_seen: dict[str, tuple[float, bytes | None]] = {}  # Redis URL -> (until, epoch)


def _epoch(platform: Platform) -> bytes | None:
    now = time.monotonic()
    seen = _epoch_seen.get(platform.settings.redis_url)
    if seen is not None and seen[0] > now:
        return seen[1]
    try:
        value = platform.redis.get(EPOCH_KEY)
    except redis.RedisError:
        return b"unavailable"  # never matches a cached epoch: go to the database
    epoch = value if isinstance(value, bytes) or value is None else str(value).encode()
    _epoch_seen[platform.settings.redis_url] = (now + EPOCH_READ_S, epoch)
    return epoch


def invalidate(platform: Platform) -> None:
    """Make every process look tokens up again (after a revoke, or a token or role changed
    in the database by hand): this one at once, the others within ``EPOCH_READ_S``."""
    with _cache_lock:
        _cache.clear()
        _epoch_seen.clear()
    try:
        platform.redis.incr(EPOCH_KEY)
    except redis.RedisError:
        log.warning("could not bump the token revocation epoch in Redis; other processes "
                    "may honour the revoked token for up to %.0f s", CACHE_TTL_S)


def authenticate(platform: Platform, token: str) -> tuple[User, str] | None:
    """The token's user and scope, or None if unknown, revoked or expired."""
    key = digest(token)
    now = time.monotonic()
    epoch = _epoch(platform)
    hit = _cache.get(key)
    if hit is not None and hit[0] > now and hit[1] == epoch and epoch != b"unavailable":
        _, _, user, scope, expires_at = hit
        return (user, scope) if expires_at > utcnow() else None
    q = (select(ApiToken.scopes, ApiToken.expires_at, ApiToken.revoked, User.id,
                User.omename, User.omero_user_id, User.email, User.role, User.created_at)
         .join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == key))
    with platform.audit.connect() as conn:
        row = conn.execute(q).one_or_none()
    if row is None or row.revoked:
        return None
    expires_at = row.expires_at
    if expires_at < utcnow():
        return None
    user = User(id=row.id, omename=row.omename, omero_user_id=row.omero_user_id,
                email=row.email, role=row.role, created_at=row.created_at)
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = (now + CACHE_TTL_S, epoch, user, row.scopes, expires_at)
    return user, row.scopes


def list_for(platform: Platform, user_id: int) -> list[TokenInfo]:
    """The user's tokens, newest first (revoked and expired ones included)."""
    with session_scope(platform.audit) as s:
        rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                         .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).all()
        return [TokenInfo(r.id, r.name, r.scopes, r.created_at, r.expires_at, r.revoked)
                for r in rows]


def revoke(platform: Platform, token_id: int, *, user_id: int | None = None) -> bool:
    """Revoke a token; with *user_id*, only if it is that user's. False if none matched."""
    with session_scope(platform.audit) as s:
        row = s.get(ApiToken, token_id)
        if row is None or (user_id is not None and row.user_id != user_id):
            return False
        row.revoked = True
    invalidate(platform)
    return True

