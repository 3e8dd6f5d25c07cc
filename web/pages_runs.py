"""The run page: a live plate map of well states, progress with ETA, cancel and rerun-failed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, url_for
from sqlalchemy import select

from platequeue import runs as run_service
from platequeue.accounts import Action, Identity, policy
from platequeue.omero import WellRef
from platequeue.runs import eta_seconds
from platequeue.store import TERMINAL_RUN, RunStatus, WellStatus, WellTask, session_scope
from web.access import run_for
from web.auth import platform
from web.pages import grid, install_error_pages, page_identity, row_letters

bp = Blueprint("pages_runs", __name__)
install_error_pages(bp)


def well_states(run_id: int, ident: Identity) -> list[dict[str, Any]]:
    with session_scope(platform().audit) as s:
        rows = s.scalars(select(WellTask).where(WellTask.run_id == run_id)
                         .order_by(WellTask.row, WellTask.column)).all()
        return [{"well": w.label, "row": w.row, "column": w.column, "status": w.status,
                 "attempts": w.attempts, "error": policy.shown_error(platform(), ident, w.error),
                 "worker": w.worker,
                 "device": w.device} for w in rows]


def progress(view: run_service.RunView) -> dict[str, Any]:
    """What the run page shows and polls: counts, ETA, which buttons apply."""
    from datetime import datetime

    ended = view.wells_done + view.wells_failed
    started = datetime.fromisoformat(view.started_at) if view.started_at else None
    terminal = view.status in TERMINAL_RUN
    return {"status": view.status, "total": view.wells_total, "done": view.wells_done,
            "failed": view.wells_failed, "running": view.wells_running, "ended": ended,
            "eta_seconds": None if terminal else eta_seconds(started, ended, view.wells_total),
            "can_cancel": not terminal,
            "can_rerun": view.status in (RunStatus.PARTIAL.value, RunStatus.FAILED.value),
            "terminal": terminal, "started_at": view.started_at,
            "finished_at": view.finished_at}


@bp.route("/runs/<int:run_id>")
def run(run_id: int) -> Any:
    ident = page_identity()
    view = run_for(ident, run_id)
    states = well_states(run_id, ident)
    plate = platform().catalog.plate(view.plate_id)
    wells = [WellRef(0, view.plate_id, w["row"], w["column"], w["well"], ()) for w in states]
    if plate is not None:
        cells = grid(plate, wells)
    else:  # the plate left OMERO: lay out what the run recorded
        rows = max((w["row"] for w in states), default=0) + 1
        cols = max((w["column"] for w in states), default=0) + 1
        cells = [[{"row": r, "column": c, "label": "", "well": None} for c in range(cols)]
                 for r in range(rows)]
    by_pos = {(w["row"], w["column"]): w for w in states}
    for line in cells:
        for cell in line:
            cell["state"] = by_pos.get((cell["row"], cell["column"]))
    failed = [w for w in states if w["status"] == WellStatus.FAILED]
    return render_template("run.html", run=view, cells=cells, failed=failed,
                           progress=progress(view), letters=row_letters(len(cells)),
                           columns=len(cells[0]) if cells else 0, mine=view.user == ident.omename)


@bp.route("/runs/<int:run_id>/progress.json")
def run_progress(run_id: int) -> Any:
    """One poll for the live plate map: run counts, ETA and every well's state."""
    ident = page_identity()
    view = run_for(ident, run_id)
    return jsonify(progress=progress(view), wells=well_states(run_id, ident))


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
    run_for(ident, run_id, Action.RERUN)
    view = run_service.rerun_failed(platform(), run_id, actor=ident.actor)
    flash(f"Queued the failed wells of run {run_id} again ({view.wells_total} wells in all).")
    return redirect(url_for("pages_runs.run", run_id=run_id), 303)
