"""The run page: a live plate map of well states, progress with ETA, cancel and rerun-failed.

``progress.json`` is what the page polls; it answers for every run state. Cancel and rerun
are forms with a confirmation (``data-confirm``, see ``static/app.js``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, url_for

from platequeue import runs as run_service
from platequeue.accounts import Action, Identity, policy
from platequeue.omero import WellRef
from platequeue.runs import eta_seconds
from platequeue.store import TERMINAL_RUN, RunStatus, WellStatus
from web.access import run_for
from web.auth import platform
from web.pages import (
    as_utc,
    duration_seconds,
    grid,
    install_error_pages,
    page_identity,
    row_letters,
)

bp = Blueprint("pages_runs", __name__)
# Every well state, in the order the legend lists them; "absent" is a position with no well.
STATES = ("queued", "running", "retry", "succeeded", "failed", "cancelled", "skipped")
install_error_pages(bp)


def well_states(run_id: int, ident: Identity) -> list[dict[str, Any]]:
    """The run's wells for the page, errors as *ident* may see them."""
    return [{"well": w.well, "row": w.row, "column": w.column, "status": w.status,
             "attempts": w.attempts, "error": policy.shown_error(platform(), ident, w.error),
             "worker": w.worker, "device": w.device}
            for w in run_service.well_states(platform(), run_id)]


def _iso_utc(value: str | None) -> str | None:
    at = as_utc(value)
    return at.isoformat().replace("+00:00", "Z") if at else None


def progress(view: run_service.RunView,
             states: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the run page shows and polls: counts (per well state too, when ``states`` is
    given), ETA, elapsed time, which buttons apply."""
    done, failed, running = view.wells_done, view.wells_failed, view.wells_running
    counts = dict.fromkeys(STATES, 0)
    for w in states or []:
        counts[w["status"]] = counts.get(w["status"], 0) + 1
    if states:  # one snapshot for the numbers, the legend and the map (the view may lag 1 s)
        done, failed = counts["succeeded"] + counts["skipped"], counts["failed"]
        running = counts["running"]
    ended = done + failed
    started = datetime.fromisoformat(view.started_at) if view.started_at else None
    terminal = view.status in TERMINAL_RUN
    return {"status": view.status, "total": view.wells_total, "done": done,
            "failed": failed, "running": running, "ended": ended,
            "eta_seconds": None if terminal else eta_seconds(started, ended, view.wells_total),
            "elapsed_seconds": duration_seconds(view.started_at, view.finished_at),
            "can_cancel": not terminal,
            "can_rerun": view.status in (RunStatus.PARTIAL.value, RunStatus.FAILED.value),
            "terminal": terminal, "started_at": _iso_utc(view.started_at),
            "finished_at": _iso_utc(view.finished_at), "counts": counts}


@bp.route("/runs/<int:run_id>")
def run(run_id: int) -> Any:
    ident = page_identity()
    view = run_for(ident, run_id)
    states = well_states(run_id, ident)
    plate = platform().catalog.plate(view.plate_id)
    wells = [WellRef(0, view.plate_id, w["row"], w["column"], w["well"], ()) for w in states]
    if plate is not None and run_service.geometry_problem(plate, wells) is None:
        cells = grid(plate, wells)
    else:  # the plate left OMERO, or its geometry went out of bounds: what the run recorded
        rows = max((w["row"] for w in states), default=0) + 1
        cols = max((w["column"] for w in states), default=0) + 1
        named = {(w["row"], w["column"]): w["well"] for w in states}
        cells = [[{"row": r, "column": c, "label": named.get((r, c), ""), "well": None}
                  for c in range(cols)] for r in range(rows)]
    by_pos = {(w["row"], w["column"]): w for w in states}
    for line in cells:
        for cell in line:
            cell["state"] = by_pos.get((cell["row"], cell["column"]))
    failed = [w for w in states if w["status"] == WellStatus.FAILED]
    return render_template("run.html", run=view, cells=cells, failed=failed,
                           progress=progress(view, states), letters=row_letters(len(cells)),
                           columns=len(cells[0]) if cells else 0, states=STATES,
                           mine=view.user == ident.omename)


@bp.route("/runs/<int:run_id>/progress.json")
def run_progress(run_id: int) -> Any:
    """One poll for the live plate map: run counts, ETA and every well's state."""
    ident = page_identity()
    view = run_for(ident, run_id)
    states = well_states(run_id, ident)
    return jsonify(progress=progress(view, states), wells=states)


@bp.post("/runs/<int:run_id>/cancel")
def cancel(run_id: int) -> Any:
    ident = page_identity()
    run_for(ident, run_id, Action.CANCEL)
    run_service.cancel(platform(), run_id, actor=ident.actor)
    flash(f"Run {run_id} cancelled.")
    return redirect(url_for("pages_runs.run", run_id=run_id), 303)


@bp.post("/runs/<int:run_id>/rerun-failed")
def rerun_failed(run_id: int) -> Any:
    ident = page_identity()
    before = run_for(ident, run_id, Action.RERUN)
    after = run_service.rerun_failed(platform(), run_id, actor=ident.actor)
    # The rerun moves exactly its wells out of the failed count, in one statement.
    queued = before.wells_failed - after.wells_failed
    flash(f"Queued {queued} failed well{'' if queued == 1 else 's'} of run {run_id} again.")
    return redirect(url_for("pages_runs.run", run_id=run_id), 303)
