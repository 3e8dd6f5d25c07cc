"""Platform accounts: roles (user, developer, operator, admin), changed only here so caches
follow. ``developer`` is user rights plus custom steps (:mod:`platequeue.runs.custom_steps`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from platequeue.accounts import _tokens as tokens
from platequeue.errors import Invalid, NotFound
from platequeue.platform import Platform
from platequeue.store import Role, User, audit, session_scope

ROLES = tuple(r.value for r in Role)


def ensure_user(platform: Platform, omename: str) -> User:
    """Map an OMERO experimenter to the platform user (created on first use)."""
    exp = platform.catalog.find_user(omename)
    if exp is None:
        raise NotFound(f"no OMERO experimenter named {omename!r}")
    with session_scope(platform.audit) as s:
        user = s.scalar(select(User).where(User.omename == exp.omename))
        if user is None:
            role = Role.ADMIN.value if exp.is_admin else Role.USER.value
            user = User(omename=exp.omename, omero_user_id=exp.id, email=exp.email, role=role)
            s.add(user)
            s.flush()
        s.expunge(user)
    return user


def set_role(platform: Platform, omename: str, role: str, *, actor: str) -> str:
    """Give *omename* the *role*; returns the previous one. Effective at once for browser
    sessions (read per request) and API tokens (cached lookups are dropped)."""
    if role not in ROLES:
        raise Invalid(f"role {role!r} must be one of {', '.join(ROLES)}")
    with session_scope(platform.audit) as s:
        user = s.scalar(select(User).where(User.omename == omename))
        if user is None:
            raise NotFound(f"no platform user {omename!r} (they appear after their first "
                           "sign-in or submission)")
        before, user.role = user.role, role
        audit(s, actor, "role-change", None, omename=omename, before=before, after=role)
    tokens.invalidate(platform)
    return before


@dataclass(frozen=True)
class UserInfo:
    """One platform account as the operators' list shows it."""

    id: int
    omename: str
    omero_user_id: int
    role: str


def by_id(platform: Platform, user_id: int) -> User | None:
    """The platform user with this id (detached from its session), or None."""
    with session_scope(platform.audit) as s:
        user = s.get(User, user_id)
        if user is not None:
            s.expunge(user)
        return user


def list_users(platform: Platform) -> list[UserInfo]:
    """Every platform account with its role, by OMERO user name."""
    with session_scope(platform.audit) as s:
        rows = s.scalars(select(User).order_by(User.omename)).all()
        return [UserInfo(u.id, u.omename, u.omero_user_id, u.role) for u in rows]
