"""Runs as the web sees them: loaded, then checked by :mod:`platequeue.accounts.policy`.

Pages and the JSON API both call :func:`run_for`, so they give the same answers. Status
polls (``GET /api/runs/<id>``, the run page's progress) may be answered from a view at
most ``STATUS_CACHE_S`` old, per process: a run changes at most once per finished well, and
pages poll every 2 s. Cancel and rerun in this process drop the entry.
"""

from __future__ import annotations

import time

from platequeue import runs as run_service
from platequeue.accounts import Action, Identity, policy
from platequeue.errors import NotFound
from web.auth import platform

MAX_RUN_ID = 2**31 - 1  # run ids are PostgreSQL integer
STATUS_CACHE_S = 1.0
_status: dict[tuple[str, int], tuple[float, run_service.RunView]] = {}


def _view(run_id: int, *, max_age: float) -> run_service.RunView:
    key = (platform().settings.database_url, run_id)
    now = time.monotonic()
    hit = _status.get(key)
    if max_age > 0 and hit is not None and hit[0] > now:
        return hit[1]
    view = run_service.status(platform(), run_id)
    if len(_status) > 10_000:
        _status.clear()
    _status[key] = (now + STATUS_CACHE_S, view)
    return view


def forget(run_id: int) -> None:
    """Drop the cached view of a run this process just changed."""
    _status.pop((platform().settings.database_url, run_id), None)


def run_for(ident: Identity, run_id: int, action: Action = Action.SEE, *,
            max_age: float = 0.0, image_id: int | None = None) -> run_service.RunView:
    """The run if *ident* may do *action* to it; ``NotFound``/``Forbidden`` otherwise (the
    API answers them as JSON, pages as HTML)."""
    if not 1 <= run_id <= MAX_RUN_ID:
        raise NotFound(f"no run with id {run_id}")
    view = _view(run_id, max_age=max_age)
    policy.check_run(platform(), ident, action, view, image_id=image_id)
    if action in policy.CHANGES:
        forget(run_id)
    return view
