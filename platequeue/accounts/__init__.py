"""Who uses the platform and within which limits: users and roles, API tokens, submit
quotas, and the administrators' pipeline switches.

Each is a namespace (``accounts.tokens.create(...)``) over a private module; the most used
names are also here directly. See ``docs/architecture.md``.
"""

from __future__ import annotations

from platequeue.accounts import _pipeline_admin as pipeline_admin
from platequeue.accounts import _quotas as quotas
from platequeue.accounts import _tokens as tokens
from platequeue.accounts import _users as users
from platequeue.accounts._quotas import QuotaExceeded
from platequeue.accounts._tokens import TokenInfo
from platequeue.accounts._users import ROLES, ensure_user, set_role

__all__ = [
    "ROLES",
    "QuotaExceeded",
    "TokenInfo",
    "ensure_user",
    "pipeline_admin",
    "quotas",
    "set_role",
    "tokens",
    "users",
]
