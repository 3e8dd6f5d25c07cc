"""API tokens: random, shown once, stored as SHA-256, scoped (read/submit), expiring."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from platequeue.db import affected, session_scope
from platequeue.models import ApiToken, User, utcnow
from platequeue.platform import Platform

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
        return not self.revoked and _aware(self.expires_at) > utcnow()


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=utcnow().tzinfo)


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


def authenticate(platform: Platform, token: str) -> tuple[User, str] | None:
    """The token's user and scope, or None if unknown, revoked or expired."""
    with session_scope(platform.audit) as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
        if row is None or row.revoked:
            return None
        if _aware(row.expires_at) < utcnow():
            return None
        user = row.user
        s.expunge(user)
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
        return True


def purge_expired(platform: Platform) -> int:
    """Delete expired tokens (beat's housekeeping); returns how many."""
    with session_scope(platform.audit) as s:
        return affected(s.execute(delete(ApiToken).where(ApiToken.expires_at < utcnow())))
