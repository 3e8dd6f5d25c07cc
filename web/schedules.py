"""Schedules: JSON API (``GET/POST /api/schedules``, ``DELETE /api/schedules/<id>``) and the
``/schedules`` page (list, create, pause/resume, delete; CSRF on every form)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from pipelines import registry
from platequeue import schedules
from platequeue.errors import Invalid, PlatequeueError
from platequeue.store import Role
from web.auth import Identity, platform, require
from web.pages import page_identity, render_error

bp = Blueprint("schedules", __name__)


def _error(code: int, message: str, retry_after: Any = None) -> Any:
    """JSON for ``/api/…``, the HTML error page for the page routes."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if request.path.startswith("/api/"):
        return jsonify(error=message), code, headers
    body, status = render_error(code, message)
    return body, status, headers


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    return _error(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(PlatequeueError)
def _domain_error(exc: PlatequeueError) -> Any:
    return _error(exc.status, str(exc), getattr(exc, "retry_after", None))


def _visible(ident: Identity) -> list[schedules.ScheduleView]:
    who = None if ident.sees_everything else ident.omename
    return schedules.list_schedules(platform(), omename=who)


MAX_ID = 2**63 - 1  # OMERO ids are PostgreSQL bigint
FIELDS = frozenset({"name", "cron", "timezone", "target_kind", "target_id", "pipeline",
                    "params", "channels", "group_id", "on_pipeline_version_change",
                    "enabled"})


def _int(value: Any, name: str, *, optional: bool = False) -> int | None:
    """A JSON integer id in 1 … 2**63 - 1 (not a string, a boolean or a fraction)."""
    if optional and value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Invalid(f"{name} must be an integer id between 1 and {MAX_ID}")
    return value


def _form_int(value: str, name: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit():
        raise Invalid(f"{name} must be a whole number")
    return int(text)


def _bool(value: Any, name: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Invalid(f"{name} must be true or false (a JSON boolean), not {value!r}")
    return value


def _str(value: Any, name: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    return value


def _obj(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{name} must be an object")
    return value


def _create(ident: Identity, body: dict[str, Any]) -> schedules.ScheduleView:
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(map(repr, unknown))}")
    for key in ("cron", "target_kind", "pipeline"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise Invalid(f"{key} is required")
    target_id = _int(body.get("target_id"), "target_id")
    assert target_id is not None
    return schedules.create(
        platform(), omename=ident.omename, name=_str(body.get("name"), "name"),
        cron=body["cron"], timezone=_str(body.get("timezone"), "timezone") or "UTC",
        target_kind=body["target_kind"], target_id=target_id, pipeline=body["pipeline"],
        params=_obj(body.get("params"), "params"), channels=_obj(body.get("channels"), "channels"),
        group_id=_int(body.get("group_id"), "group_id", optional=True),
        on_pipeline_version_change=_bool(body.get("on_pipeline_version_change"),
                                         "on_pipeline_version_change", False),
        enabled=_bool(body.get("enabled"), "enabled", True), actor=ident.actor)


@bp.get("/api/schedules")
def api_list() -> Any:
    return jsonify([v.to_json() for v in _visible(require())])


@bp.post("/api/schedules")
def api_create() -> Any:
    ident = require("submit")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("send a JSON object with cron, target_kind, target_id and pipeline")
    return jsonify(_create(ident, body).to_json()), 201


@bp.delete("/api/schedules/<int:schedule_id>")
def api_delete(schedule_id: int) -> Any:
    ident = require("submit")
    schedules.delete(platform(), schedule_id, omename=ident.omename,
                     actor=f"{ident.via}:{ident.omename}")
    return "", 204


def _targets(ident: Identity) -> dict[str, list[tuple[int, str]]]:
    """Plates and screens this user may read, for the target picker."""
    plates = platform().catalog.plates_for_user(ident.omero_user_id)
    screens = {p.screen_id: p.screen_name or f"screen {p.screen_id}" for p in plates
               if p.screen_id is not None}
    return {"plates": [(p.id, p.name) for p in plates],
            "screens": sorted(screens.items(), key=lambda kv: kv[1])}


def _local(view: schedules.ScheduleView) -> str:
    """The next firing in the schedule's own time zone ("2026-12-02 02:00 CET")."""
    try:
        when = datetime.fromisoformat(view.next_fire_at)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        local = when.astimezone(ZoneInfo(view.timezone))
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return view.next_fire_at[:16].replace("T", " ") + " UTC"
    return local.strftime("%Y-%m-%d %H:%M %Z")


def _page(ident: Identity, error: str | None = None, status: int = 200,
          form: dict[str, Any] | None = None) -> Any:
    rows = _visible(ident)
    return render_template("schedules.html", schedules=rows, error=error,
                           local_next={v.id: _local(v) for v in rows},
                           pipelines=registry.names(), targets=schedules.TARGETS,
                           choices=_targets(ident), form=form or {},
                           zones=sorted(available_timezones()),
                           is_admin=ident.role == Role.ADMIN.value), status


@bp.get("/schedules")
def page() -> Any:
    return _page(page_identity())


def _target(form: Any) -> tuple[str, str]:
    """(target_kind, target_id) from the picker (``plate:51``, ``screen:3``; a screen with
    "only new plates" ticked is ``screen_new_since_last``), else from the plain fields."""
    picked = form.get("target", "")
    kind, sep, ident = picked.partition(":")
    if not sep:
        return form.get("target_kind", ""), form.get("target_id", "")
    if kind == "screen" and form.get("new_plates_only") == "on":
        kind = "screen_new_since_last"
    return kind, ident


@bp.post("/schedules")
def page_create() -> Any:
    ident = page_identity()
    form = request.form
    kept = form.to_dict()
    body: dict[str, Any] = {k: form.get(k, "") for k in (
        "name", "cron", "timezone", "pipeline")}
    body["target_kind"], target_id = _target(form)
    body["on_pipeline_version_change"] = form.get("on_pipeline_version_change") == "on"
    try:
        body["target_id"] = _form_int(target_id, "target_id")
        body["group_id"] = _form_int(form.get("group_id", ""), "group_id")
    except Invalid as exc:
        return _page(ident, str(exc), exc.status, kept)
    params: dict[str, str] = {}
    for line in form.get("params", "").splitlines():
        key, sep, value = line.partition("=")
        if line.strip() and not sep:
            return _page(ident, f"parameter line {line!r} is not name=value", 422, kept)
        if sep:
            params[key.strip()] = value.strip()
    body["params"] = params
    try:
        _create(ident, body)
    except PlatequeueError as exc:
        return _page(ident, str(exc), exc.status, kept)
    return redirect(url_for("schedules.page"))


@bp.post("/schedules/<int:schedule_id>/delete")
def page_delete(schedule_id: int) -> Any:
    ident = page_identity()
    schedules.delete(platform(), schedule_id, omename=ident.omename,
                     actor=f"{ident.via}:{ident.omename}")
    return redirect(url_for("schedules.page"))


@bp.post("/schedules/<int:schedule_id>/toggle")
def page_toggle(schedule_id: int) -> Any:
    ident = page_identity()
    current = schedules.get(platform(), schedule_id)
    schedules.set_enabled(platform(), schedule_id, not current.enabled, omename=ident.omename,
                          actor=f"{ident.via}:{ident.omename}")
    return redirect(url_for("schedules.page"))
