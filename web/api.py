"""JSON API: runs (submit, status, wells, results, cancel, rerun), plates, pipelines, me.

Every route is documented in ``web/openapi.json`` (served at ``/api/openapi.json``) and
every error is ``{"error": "<message>"}``: 401 no or bad credentials, 403 not allowed,
404 unknown (or not yours), 409 wrong state, 422 bad input.

Slightly over 300 lines: one blueprint holds every JSON route so that it maps one to one
onto ``web/openapi.json``.
"""

from __future__ import annotations

import base64
import binascii
import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from pipelines import registry
from platequeue import runs
from platequeue.accounts import Action, pipeline_admin, policy
from platequeue.accounts import users as accounts_users
from platequeue.errors import Invalid
from platequeue.runs import custom_steps
from web.access import MAX_RUN_ID, STATUS_CACHE_S, run_for
from web.auth import attach_omero_session, platform, require
from web.strict import MAX_ID

bp = Blueprint("api", __name__, url_prefix="/api")

OPENAPI_FILE = Path(__file__).with_name("openapi.json")
_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no", ""}


# Query parameters each endpoint takes; any other is refused (422), so a typo such as
# ``?formt=csv`` is an error rather than silently the default.
QUERY_ARGS: dict[str, frozenset[str]] = {
    "api.list_runs": frozenset({"all", "limit"}),
    "api.run_results": frozenset({"format"}),
}
PUBLIC = frozenset({"api.openapi"})
SUBMIT_FIELDS = frozenset({"plate_id", "pipeline", "params", "channels", "incremental",
                           "custom_step", "wells"})


@bp.before_request
def _check_request() -> None:
    """Credentials first (401), then unknown query parameters (422)."""
    endpoint = request.endpoint or ""
    if endpoint not in PUBLIC:
        require()
    # ``bsession`` (an OMERO session key, OMERO.web's convention) is sign-in, on any route
    unknown = sorted(set(request.args) - QUERY_ARGS.get(endpoint, frozenset()) - {"bsession"})
    if unknown:
        raise Invalid(f"unknown query parameter(s): {', '.join(map(repr, unknown))}")


@cache
def openapi_document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(OPENAPI_FILE.read_text())
    return doc


def _bool_arg(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise Invalid(f"query parameter {name}={raw!r} must be true or false")
    return raw in _TRUE


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"query parameter {name}={raw!r} must be an integer") from None
    if not lo <= value <= hi:
        raise Invalid(f"query parameter {name}={value} must be between {lo} and {hi}")
    return value


def _json_id(value: Any, maximum: int) -> int | None:
    """A positive integer id from JSON, or None. JSON has one number type: 976.0 is 976."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        return None
    return value


def _submit_params(body: dict[str, Any]) -> dict[str, Any]:
    """``params`` plus ``channels`` (role -> channel name or index) as ``channels.<role>``."""
    params = body.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise Invalid("params must be an object of parameter values")
    channels = body.get("channels")
    if channels is None:
        channels = {}
    if not isinstance(channels, dict) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in channels.values()):
        raise Invalid("channels must be an object mapping a channel role to a channel name "
                      "or index")
    return {**params, **{f"channels.{role}": str(v) for role, v in channels.items()}}


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())


@bp.get("/me")
def me() -> Any:
    ident = require()
    return jsonify({"user_id": ident.user_id, "omename": ident.omename,
                    "omero_user_id": ident.omero_user_id, "role": ident.role,
                    "scope": ident.scope, "via": ident.via})


@bp.post("/runs")
def submit() -> Any:
    ident = require("submit")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("send a JSON object with plate_id and pipeline")
    unknown = sorted(set(body) - SUBMIT_FIELDS)
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(map(repr, unknown))}; "
                      f"send {', '.join(sorted(SUBMIT_FIELDS))}")
    plate_id, pipeline = _json_id(body.get("plate_id"), MAX_ID), body.get("pipeline")
    if plate_id is None:
        raise Invalid("plate_id must be a positive integer")
    if not isinstance(pipeline, str) or not pipeline:
        raise Invalid("pipeline must be a pipeline name")
    if not isinstance(body.get("incremental", False), bool):
        raise Invalid("incremental must be true or false")
    custom_step = _json_id(body.get("custom_step"), MAX_RUN_ID)
    if body.get("custom_step") is not None and custom_step is None:
        raise Invalid("custom_step must be a custom step artifact id")
    view = runs.submit(platform(), omename=ident.omename, plate_id=plate_id,
                       pipeline=pipeline, params=_submit_params(body),
                       actor=f"{ident.via}:{ident.omename}",
                       incremental=body.get("incremental", False), custom_step=custom_step,
                       well_labels=body.get("wells"))
    attach_omero_session(view.run_id)
    return jsonify(view.to_json()), 201


@bp.post("/steps")
def upload_step() -> Any:
    """A developer's dill-serialised step, stored hashed and signed (never unpickled here)."""
    ident = require("submit")
    if not platform().settings.custom_steps:
        abort(404, custom_steps.OFF)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) != {"name", "payload"}:
        raise Invalid("send a JSON object with exactly name and payload (base64)")
    name, payload = body["name"], body["payload"]
    if not isinstance(name, str) or not isinstance(payload, str):
        raise Invalid("name and payload must be strings")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("payload must be base64") from None
    user = accounts_users.by_id(platform(), ident.user_id)
    if user is None:
        abort(401, "sign in or send an API token")
    art = custom_steps.store(platform(), user, name, data)
    return jsonify({"artifact_id": art.id, "name": art.name, "sha256": art.sha256,
                    "created_at": art.created_at.isoformat()}), 201


@bp.get("/runs")
def list_runs() -> Any:
    ident = require()
    everyone = _bool_arg("all")
    limit = _int_arg("limit", 50, 1, 500)
    who = None if ident.sees_everything and everyone else ident.omename
    return jsonify([v.to_json() for v in runs.list_runs(platform(), omename=who, limit=limit)])


@bp.get("/runs/<int:run_id>")
def get_run(run_id: int) -> Any:
    return jsonify(run_for(require(), run_id, max_age=STATUS_CACHE_S).to_json())


@bp.get("/runs/<int:run_id>/wells")
def run_wells(run_id: int) -> Any:
    ident = require()
    run_for(ident, run_id)
    rows = runs.well_states(platform(), run_id)
    return jsonify([{"well": w.well, "row": w.row, "column": w.column, "status": w.status,
                     "attempts": w.attempts,
                     "error": policy.shown_error(platform(), ident, w.error), "device": w.device,
                     "worker": w.worker} for w in rows])


@bp.get("/runs/<int:run_id>/results")
def run_results(run_id: int) -> Any:
    run_for(require(), run_id)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv", "parquet"):
        raise Invalid(f"format {fmt!r} must be json, csv or parquet")
    columns, rows = runs.results(platform(), run_id)
    if fmt == "json":
        return jsonify({"columns": columns, "rows": rows})
    if fmt == "parquet":
        from platequeue.runs import results_parquet

        return Response(results_parquet(columns, rows),
                        mimetype="application/vnd.apache.parquet", headers={
                            "Content-Disposition": f"attachment; filename=run-{run_id}.parquet"})
    return Response(runs.render_results(columns, rows, "csv"), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=run-{run_id}.csv"})


@bp.post("/runs/<int:run_id>/cancel")
def cancel(run_id: int) -> Any:
    ident = require("submit")
    run_for(ident, run_id, Action.CANCEL)
    return jsonify(runs.cancel(platform(), run_id, actor=ident.actor).to_json())


@bp.post("/runs/<int:run_id>/rerun-failed")
def rerun(run_id: int) -> Any:
    ident = require("submit")
    run_for(ident, run_id, Action.RERUN)
    view = runs.rerun_failed(platform(), run_id, actor=ident.actor)
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
    off = pipeline_admin.disabled(platform())
    return jsonify([{"name": p.name, "version": p.version, "hash": p.hash, "gpu": p.gpu,
                     "enabled": p.name not in off, "parameters": p.parameters()}
                    for p in map(registry.get, registry.names())])
