"""API tokens: random, shown once, stored as SHA-256, scoped (read/submit), expiring."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from platequeue.db import session_scope
from platequeue.models import ApiToken, User, utcnow
from platequeue.platform import Platform

PREFIX = "pq_"
SCOPES = ("read", "submit")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(platform: Platform, user_id: int, *, name: str, scope: str, days: int) -> str:
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} must be one of {SCOPES}")
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
        expires = row.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=utcnow().tzinfo)
        if expires < utcnow():
            return None
        user = row.user
        s.expunge(user)
        return user, row.scopes


def revoke(platform: Platform, token_id: int) -> bool:
    with session_scope(platform.audit) as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            return False
        row.revoked = True
        return True
