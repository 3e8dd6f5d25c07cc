"""Who uses the platform and within which limits: users and roles, API tokens, submit
quotas, the administrators' pipeline switches, and the one access ``policy`` (who may see,
change or preview which run or plate).

Each is a namespace (``accounts.tokens.create(...)``) over a private module; the most used
names are also here directly. See ``docs/architecture.md``.
"""

from __future__ import annotations

from platequeue.accounts import _pipeline_admin as pipeline_admin
from platequeue.accounts import _policy as policy
from platequeue.accounts import _quotas as quotas
from platequeue.accounts import _tokens as tokens
from platequeue.accounts import _users as users
from platequeue.accounts._policy import Action, Identity
from platequeue.accounts._quotas import QuotaExceeded
from platequeue.accounts._tokens import TokenInfo
from platequeue.accounts._users import ROLES, UserInfo, ensure_user, set_role

__all__ = [
    "ROLES",
    "Action",
    "Identity",
    "QuotaExceeded",
    "TokenInfo",
    "UserInfo",
    "ensure_user",
    "pipeline_admin",
    "policy",
    "quotas",
    "set_role",
    "tokens",
    "users",
]
