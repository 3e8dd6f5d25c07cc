"""After a run: write its results back to OMERO on the user's session, or record why not.

The OMERO calls themselves are :func:`platequeue.omero.write_back` (omero-py, the
optional ``omero`` extra); this module decides whether to call them, gathers the rows and
audits the outcome. Every outcome is one audit event: ``writeback-skipped`` (no OMERO
server configured), ``writeback-failed`` (with the reason) or ``writeback-done`` (with the
ids of the objects created).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from platequeue import omero
from platequeue.platform import Platform
from platequeue.runs._service import results
from platequeue.store import Run, WellTask, audit, session_scope

log = logging.getLogger(__name__)

Writer = Callable[..., Mapping[str, int]]
"""``write_back(host, port, session_key, plate_id, rows, *, name)`` -> created ids."""


def _default_writer() -> Writer | None:
    return omero.write_back if omero.omero_available() else None


def writeback_rows(platform: Platform, run_id: int) -> tuple[Run, list[dict[str, Any]]]:
    """The run and its result rows, each with the OMERO ``well_id`` the table links to."""
    _, rows = results(platform, run_id)
    with session_scope(platform.audit) as s:
        run = s.get(Run, run_id)
        if run is None:
            raise LookupError(f"no run {run_id}")
        s.expunge(run)
        ids = {label: well_id for label, well_id in s.execute(
            select(WellTask.label, WellTask.well_id).where(WellTask.run_id == run_id))}
    return run, [{"well_id": ids[r["well"]], **r} for r in rows]


def _audit(platform: Platform, action: str, run_id: int, **detail: Any) -> None:
    with session_scope(platform.audit) as s:
        audit(s, "platequeue", action, run_id, **detail)


def write_back_run(platform: Platform, run_id: int, *, writer: Writer | None = None) -> str:
    """Write run *run_id*'s measurements to its plate in OMERO; returns the outcome.

    Needs ``OMERO_HOST``, an OMERO session attached to the run
    (:func:`platequeue.runs.attach_omero_session`, done when a user signed in through
    OMERO submits) and omero-py. Re-running replaces the annotations an earlier run of the
    same pipeline left on the plate (same name). *writer* replaces the omero-py call
    (tests: no OMERO server runs here).
    """
    settings = platform.settings
    if settings.omero_host is None:
        _audit(platform, "writeback-skipped", run_id,
               reason="no OMERO server configured (OMERO_HOST unset)")
        return "skipped"
    session = omero.keepalive.lookup(platform.redis, run_id)
    if session is None:
        _audit(platform, "writeback-failed", run_id,
               reason="the run carries no OMERO session (submit while signed in through "
                      "OMERO or OMERO.web to have results written back)")
        return "no-session"
    writer = writer or _default_writer()
    if writer is None:
        _audit(platform, "writeback-failed", run_id,
               reason="omero-py is not installed (pip install 'platequeue[omero]')")
        return "unavailable"
    run, rows = writeback_rows(platform, run_id)
    if not rows:
        _audit(platform, "writeback-skipped", run_id, reason="the run has no measurements")
        return "empty"
    name = f"platequeue {run.pipeline_name}"
    try:
        created = writer(settings.omero_host, settings.omero_port, session.key,
                         run.plate_id, rows, name=name)
    except Exception as exc:  # noqa: BLE001  (omero-py raises Ice exceptions of any kind)
        log.warning("write-back of run %d failed: %s", run_id, exc)
        _audit(platform, "writeback-failed", run_id, reason=f"{type(exc).__name__}: {exc}")
        return "failed"
    _audit(platform, "writeback-done", run_id, plate_id=run.plate_id, name=name,
           rows=len(rows), created=dict(created))
    log.info("run %d written back to plate %d: %s", run_id, run.plate_id, dict(created))
    return "done"

