"""JSON API: runs (submit, status, wells, results, cancel, rerun), plates, pipelines."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy import select

from pipelines import registry
from platequeue import runs
from platequeue.db import session_scope
from platequeue.errors import Invalid
from platequeue.models import WellTask
from web.auth import Identity, platform, require

bp = Blueprint("api", __name__, url_prefix="/api")


def _run_for(ident: Identity, run_id: int) -> runs.RunView:
    """The run, if this identity may see it (its own, or operator/admin) and read its plate."""
    view = runs.status(platform(), run_id)
    if view.user != ident.omename and not ident.sees_everything:
        abort(404, f"no run with id {run_id}")
    if not ident.sees_everything and not platform().catalog.can_read_plate(
            ident.omero_user_id, view.plate_id):
        abort(403, f"you may no longer read plate {view.plate_id}")
    return view


@bp.post("/runs")
def submit() -> Any:
    ident = require("submit")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("send a JSON object with plate_id and pipeline")
    plate_id, pipeline = body.get("plate_id"), body.get("pipeline")
    if not isinstance(plate_id, int) or isinstance(plate_id, bool):
        raise Invalid("plate_id must be an integer")
    if not isinstance(pipeline, str) or not pipeline:
        raise Invalid("pipeline must be a pipeline name")
    params = body.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise Invalid("params must be an object of parameter values")
    view = runs.submit(platform(), omename=ident.omename, plate_id=plate_id,
                       pipeline=pipeline, params=params, actor=f"{ident.via}:{ident.omename}")
    return jsonify(view.to_json()), 201


@bp.get("/runs")
def list_runs() -> Any:
    ident = require()
    who = None if ident.sees_everything and request.args.get("all") else ident.omename
    return jsonify([v.to_json() for v in runs.list_runs(platform(), omename=who)])


@bp.get("/runs/<int:run_id>")
def get_run(run_id: int) -> Any:
    return jsonify(_run_for(require(), run_id).to_json())


@bp.get("/runs/<int:run_id>/wells")
def run_wells(run_id: int) -> Any:
    _run_for(require(), run_id)
    with session_scope(platform().audit) as s:
        rows = s.scalars(select(WellTask).where(WellTask.run_id == run_id)
                         .order_by(WellTask.row, WellTask.column)).all()
        return jsonify([{"well": w.label, "row": w.row, "column": w.column, "status": w.status,
                         "attempts": w.attempts, "error": w.error, "device": w.device,
                         "worker": w.worker} for w in rows])


@bp.get("/runs/<int:run_id>/results")
def run_results(run_id: int) -> Any:
    _run_for(require(), run_id)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise Invalid(f"format {fmt!r} must be json or csv")
    columns, rows = runs.results(platform(), run_id)
    if fmt == "json":
        return jsonify({"columns": columns, "rows": rows})
    return Response(runs.render_results(columns, rows, "csv"), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=run-{run_id}.csv"})


@bp.post("/runs/<int:run_id>/cancel")
def cancel(run_id: int) -> Any:
    ident = require("submit")
    _run_for(ident, run_id)
    return jsonify(runs.cancel(platform(), run_id, actor=f"{ident.via}:{ident.omename}").to_json())


@bp.post("/runs/<int:run_id>/rerun-failed")
def rerun(run_id: int) -> Any:
    ident = require("submit")
    _run_for(ident, run_id)
    view = runs.rerun_failed(platform(), run_id, actor=f"{ident.via}:{ident.omename}")
    return jsonify(view.to_json())


@bp.get("/plates")
def plates() -> Any:
    ident = require()
    found = platform().catalog.plates_for_user(ident.omero_user_id)
    return jsonify([{"id": p.id, "name": p.name, "rows": p.rows, "columns": p.columns,
                     "wells": p.wells, "fields": p.fields, "channels": list(p.channels),
                     "screen": p.screen_name} for p in found])


@bp.get("/pipelines")
def pipelines() -> Any:
    require()
    return jsonify([{"name": p.name, "version": p.version, "hash": p.hash, "gpu": p.gpu,
                     "parameters": p.parameters()}
                    for p in map(registry.get, registry.names())])
