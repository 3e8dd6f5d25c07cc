"""OMERO's read rules, as SQL the database evaluates.

OMERO keeps a group's permissions as a bit field in ``experimentergroup.permissions``
(READ=4, ANNOTATE=1, WRITE=2, shifted by USER=8, GROUP=4, WORLD=0); private
``rw----`` is -120, read-only -56, read-annotate -40, read-write -8, public -52.
The **group's** bits decide (as OMERO's ``AllGroupsSecurityFilter``).  A row in
group G owned by O is readable by user U when any of these holds:

* U is an administrator (a member of group ``system``);
* U leads G (``groupexperimentermap.owner`` is true);
* U is O and G has USER-READ;
* U is a member of G and G has GROUP-READ;
* G has WORLD-READ.

Reading pixels straight from disk bypasses OMERO, so every lookup the platform
makes on behalf of a user goes through :func:`readable_sql`.  The expressions
use ``&`` on ``int8``, which PostgreSQL and SQLite both evaluate.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

logger = logging.getLogger(__name__)

READ, ANNOTATE, WRITE = 4, 1, 2
USER_SHIFT, GROUP_SHIFT, WORLD_SHIFT = 8, 4, 0
USER_READ = READ << USER_SHIFT  # 1024
GROUP_READ = READ << GROUP_SHIFT  # 64
WORLD_READ = READ << WORLD_SHIFT  # 4

#: The five group permission levels OMERO offers, as stored in the database.
GROUP_LEVELS: dict[str, int] = {
    "private": -120,  # rw----
    "read-only": -56,  # rwr---
    "read-annotate": -40,  # rwra--
    "read-write": -8,  # rwrw--
    "public": -52,  # rwr-r-
}

SYSTEM_GROUP = "system"

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

#: Tables whose rows carry ``owner_id``/``group_id`` and may be checked.
CHECKABLE_TABLES = frozenset(
    {"screen", "plate", "plateacquisition", "well", "wellsample", "image", "pixels",
     "fileset", "originalfile", "channel", "logicalchannel"}
)


def perm_string(permissions: int) -> str:
    """``rwra--``-style rendering of a group's permission bits."""
    out = []
    for shift in (USER_SHIFT, GROUP_SHIFT, WORLD_SHIFT):
        out.append("r" if permissions & (READ << shift) else "-")
        if permissions & (WRITE << shift):
            out.append("w")
        elif permissions & (ANNOTATE << shift):
            out.append("a")
        else:
            out.append("-")
    return "".join(out)


def admin_sql(uid_param: str = "uid") -> str:
    """SQL boolean: the user bound to ``:uid_param`` is a member of group ``system``."""
    return (
        "EXISTS (SELECT 1 FROM groupexperimentermap gm_adm "
        "JOIN experimentergroup g_adm ON g_adm.id = gm_adm.parent "
        f"WHERE gm_adm.child = :{uid_param} AND g_adm.name = '{SYSTEM_GROUP}')"
    )


def readable_sql(alias: str, uid_param: str = "uid") -> str:
    """SQL boolean: the row ``alias`` (with owner_id, group_id) is readable by ``:uid``.

    *alias* must be a plain identifier (it is interpolated, never user input).
    """
    if not _IDENT.match(alias) or not _IDENT.match(uid_param):
        raise ValueError(f"bad SQL identifier {alias!r} / {uid_param!r}")
    u = f":{uid_param}"
    return (
        "(EXISTS (SELECT 1 FROM experimentergroup g_rd "
        f"WHERE g_rd.id = {alias}.group_id AND ("
        f"(g_rd.permissions & {WORLD_READ}) <> 0"
        f" OR ({alias}.owner_id = {u} AND (g_rd.permissions & {USER_READ}) <> 0)"
        f" OR ((g_rd.permissions & {GROUP_READ}) <> 0 AND EXISTS ("
        "SELECT 1 FROM groupexperimentermap gm_mem "
        f"WHERE gm_mem.parent = g_rd.id AND gm_mem.child = {u}))"
        " OR EXISTS (SELECT 1 FROM groupexperimentermap gm_lead "
        f"WHERE gm_lead.parent = g_rd.id AND gm_lead.child = {u} AND gm_lead.owner)"
        f")) OR {admin_sql(uid_param)})"
    )


def is_admin(conn: Connection, user_id: int) -> bool:
    """Whether *user_id* is an OMERO administrator (member of ``system``)."""
    return bool(conn.execute(text(f"SELECT {admin_sql()}"), {"uid": user_id}).scalar())


def can_read(conn: Connection, user_id: int, table: str, row_id: int) -> bool:
    """Whether *user_id* may read row *row_id* of *table* under OMERO's rules."""
    if table not in CHECKABLE_TABLES:
        raise ValueError(f"permissions cannot be checked on table {table!r}")
    sql = f"SELECT {readable_sql('r')} FROM {table} r WHERE r.id = :rid"
    allowed = bool(conn.execute(text(sql), {"uid": user_id, "rid": row_id}).scalar())
    if not allowed:
        logger.info("user %s may not read %s %s", user_id, table, row_id)
    return allowed
