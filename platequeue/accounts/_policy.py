"""Who may do what: the one place run and plate access is decided, for every caller.

Web pages, the JSON API, the CLI and tasks ask the same questions here:

* :func:`require`: does this identity have the scope (a ``read`` token only reads) and the
  role a route needs?
* :func:`decide` / :func:`check_run`: may it **see**, **cancel**, **rerun** or **preview**
  (read the pixels of) a run?
* :func:`readable_plate`: may it read a plate? Unknown and unreadable plates give the same
  404, so the answer never tells whether a plate exists.

The rules, by role (``developer`` is a user who may also run custom steps):

========  ==================================  =====================  ======================
role      see a run                           cancel / rerun         preview (pixels)
========  ==================================  =====================  ======================
user      own runs whose plate it still reads own runs (scope        own runs, OMERO read
                                              ``submit``)            rules on the image
operator  every run (read-only view)          own runs only          OMERO read rules
admin     every run                           every run              every image
========  ==================================  =====================  ======================

Anything a user may not see is answered 404 (as if it did not exist); a run that is the
caller's own but whose plate it may no longer read is 403. Plates follow OMERO's read rules
(:mod:`platequeue.omero`, its permissions module) for every role.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from platequeue.errors import Forbidden, NotFound
from platequeue.omero import PlateInfo
from platequeue.platform import Platform
from platequeue.store import Role

__all__ = ["ROLE_RANK", "Action", "Decision", "Identity", "RunLike", "check_run", "decide",
           "may_read_plate", "readable_plate", "require", "shown_error"]

# developer: user rights plus custom steps, an orthogonal trust flag (not above operator)
ROLE_RANK = {Role.USER.value: 0, Role.DEVELOPER.value: 0, Role.OPERATOR.value: 1,
             Role.ADMIN.value: 2}
SCOPES = ("read", "submit")


class Action(enum.StrEnum):
    SEE = "see"
    CANCEL = "cancel"
    RERUN = "rerun"
    PREVIEW = "preview"


CHANGES = frozenset({Action.CANCEL, Action.RERUN})


@dataclass(frozen=True)
class Identity:
    """Who is asking: the platform user, its OMERO id, its role and the credential's scope
    (``read`` or ``submit``); ``via`` says how it authenticated (token, session, cli…)."""

    user_id: int
    omename: str
    omero_user_id: int
    role: str
    scope: str  # read | submit
    via: str  # token | session | omero-header | cli | task

    @property
    def sees_everything(self) -> bool:
        """Operators and admins see every run (not every plate: OMERO decides those)."""
        return self.has_role(Role.OPERATOR.value)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    @property
    def may_write(self) -> bool:
        return self.scope == "submit"

    @property
    def actor(self) -> str:
        """How the audit log names this identity."""
        return f"{self.via}:{self.omename}"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[Role(role).value]

    @classmethod
    def command_line(cls) -> Identity:
        """The ``platequeue`` command: whoever runs it holds the database credentials, so it
        acts as an admin (its ``--user`` options still submit *as* that user)."""
        return cls(0, "cli", 0, Role.ADMIN.value, "submit", "cli")


class RunLike(Protocol):
    """What a decision needs to know about a run (``platequeue.runs.RunView`` fits)."""

    @property
    def run_id(self) -> int: ...

    @property
    def user(self) -> str: ...

    @property
    def plate_id(self) -> int: ...


@dataclass(frozen=True)
class Decision:
    """``status`` 200 (allowed), 403 (refused, and the caller may know the run) or 404."""

    allowed: bool
    status: int
    reason: str

    def raise_if_refused(self) -> None:
        if self.allowed:
            return
        raise (NotFound if self.status == 404 else Forbidden)(self.reason)


_OK = Decision(True, 200, "allowed")


def require(ident: Identity, *, scope: str = "read", role: str | None = None) -> Identity:
    """Raise 403 unless *ident* has *scope* (``submit`` needs a submit-scoped credential)
    and at least *role*."""
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} must be one of {SCOPES}")
    if scope == "submit" and not ident.may_write:
        raise Forbidden("this token may only read")
    if role is not None and not ident.has_role(role):
        raise Forbidden(f"this needs the {role} role; you are {ident.role}")
    return ident


def decide(ident: Identity, action: Action, run: RunLike, *,
           plate_readable: Callable[[], bool],
           image_readable: Callable[[], bool] | None = None) -> Decision:
    """May *ident* do *action* to *run*? ``plate_readable``/``image_readable`` answer
    OMERO's read rule for the identity (called only when the answer matters)."""
    hidden = Decision(False, 404, f"no run with id {run.run_id}")
    own = run.user == ident.omename
    if not own and not ident.sees_everything:
        return hidden
    if own and not ident.is_admin and not plate_readable():
        return Decision(False, 403, f"you may no longer read plate {run.plate_id}")
    if action in CHANGES:
        if not ident.may_write:
            return Decision(False, 403, "this token may only read")
        if not own and not ident.is_admin:
            return Decision(False, 403, "only the run's owner or an admin may change it")
    if action is Action.PREVIEW and not ident.is_admin:
        if image_readable is None:
            raise ValueError("a preview decision needs image_readable")
        if not image_readable():
            return Decision(False, 403, "OMERO's permissions do not let you read this image")
    return _OK


def check_run(platform: Platform, ident: Identity, action: Action, run: RunLike, *,
              image_id: int | None = None) -> None:
    """:func:`decide` against the OMERO catalog; raises ``NotFound``/``Forbidden``."""
    catalog = platform.catalog
    decide(ident, action, run,
           plate_readable=lambda: may_read_plate(platform, ident.omero_user_id, run.plate_id),
           image_readable=None if image_id is None else
           (lambda: catalog.can_read_image(ident.omero_user_id, image_id))
           ).raise_if_refused()


# -- what a well's error may show -----------------------------------------------------------
_PATH = re.compile(r"(?<![\w:/.~-])/(?:[^\s/:'\"()\[\],;]+/)*[^\s/:'\"()\[\],;]+")
PATH_MASK = "<path>"


def shown_error(platform: Platform, ident: Identity, error: str | None) -> str | None:
    """A well's error as *ident* may see it: operators and admins get it whole; users get
    the message with server paths (the repository layout, worker files) masked."""
    if error is None or ident.sees_everything:
        return error
    root = str(platform.settings.omero_data_dir).rstrip("/")
    masked = error.replace(root, PATH_MASK) if len(root) > 1 else error
    return _PATH.sub(PATH_MASK, masked)


# -- plates -------------------------------------------------------------------------------
READ_OK_TTL_S = 5.0
_read_ok: dict[tuple[str, int, int], float] = {}  # (OMERO db, user, plate) -> valid until


def may_read_plate(platform: Platform, omero_user_id: int, plate_id: int, *,
                   fresh: bool = False) -> bool:
    """OMERO's read rule for the plate. A yes is remembered for ``READ_OK_TTL_S`` seconds
    per process (status polls repeat it every second); a no is never remembered."""
    key = (platform.settings.omero_db_url, omero_user_id, plate_id)
    now = time.monotonic()
    if not fresh and _read_ok.get(key, 0.0) > now:
        return True
    if not platform.catalog.can_read_plate(omero_user_id, plate_id):
        _read_ok.pop(key, None)
        return False
    if len(_read_ok) > 10_000:
        _read_ok.clear()
    _read_ok[key] = now + READ_OK_TTL_S
    return True


def readable_plate(platform: Platform, omero_user_id: int, plate_id: int) -> PlateInfo:
    """The plate if OMERO lets the user read it; the same 404 for unknown and unreadable
    plates (existence is not leaked)."""
    plate = platform.catalog.plate(plate_id)
    if plate is None or not may_read_plate(platform, omero_user_id, plate_id, fresh=True):
        raise NotFound(f"no plate with id {plate_id} that you may read")
    return plate


def readable_screen_plates(platform: Platform, omero_user_id: int, screen_id: int) -> list[int]:
    """The plates of a screen the user may read (OMERO's rules for each plate); the same
    404 for an unknown screen and one the user may not read. A readable screen may hold
    no plate the user may read: an empty list."""
    found = platform.catalog.screen_plate_ids(omero_user_id, screen_id)
    if found is None:
        raise NotFound(f"no screen with id {screen_id} that you may read")
    return found
