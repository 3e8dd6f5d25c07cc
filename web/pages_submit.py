"""The submit page: plates (one run each; ``?plate=ID``, repeatable, or ``?screen=ID`` for
the plates of a screen the user may read preselect them), a subset of their wells, a pipeline, its
parameters grouped by step with labels, units and help, a dry-run estimate.

Parameters come from the pipeline's declarations (type, default, bounds, label, unit);
each value is checked server-side with the pipeline's own coercion, and an error is shown
beside its field with everything the user typed kept. Channel roles map to the plates'
channel names, and the page says which channel each role will read on each plate. The form
model lives in :mod:`web.submit_form`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from pipelines import registry
from pipelines.engine import Pipeline
from platequeue import runs as run_service
from platequeue.accounts import pipeline_admin, policy
from platequeue.errors import NotFound, PlatequeueError
from platequeue.omero import PlateInfo, WellRef
from platequeue.runs import estimate as estimates
from web.auth import Identity, attach_omero_session, platform
from web.pages import install_error_pages, page_identity
from web.strict import MAX_ID
from web.submit_form import (
    ParamField,
    channel_picks,
    groups,
    param_fields,
    shown,
    validate,
    well_picker,
)

bp = Blueprint("pages_submit", __name__)
install_error_pages(bp)


MAX_SCREENS = 20  # screens named in one request (each is one catalog query)


def _ids(values: list[str]) -> set[int]:
    return {int(v) for v in values if v.isascii() and v.isdigit()}


def _screen_plates(ident: Identity, screen_ids: set[int]) -> tuple[set[int], list[str]]:
    """The plates of the named screens that the user may read, and what to say about a
    screen that is unknown, unreadable (the same message) or holds no readable plate."""
    plates: set[int] = set()
    unreadable, empty = [], []
    if len(screen_ids) > MAX_SCREENS:
        return plates, [f"name at most {MAX_SCREENS} screens at once"]
    for sid in sorted(screen_ids):
        if not 0 < sid <= MAX_ID:
            unreadable.append(sid)
            continue
        try:
            found = policy.readable_screen_plates(platform(), ident.omero_user_id, sid)
        except NotFound:
            unreadable.append(sid)
            continue
        if not found:
            empty.append(sid)
        plates.update(found)
    errors = [f"you may not read screen(s) {unreadable}"] if unreadable else []
    if empty:
        errors.append(f"screen(s) {empty} hold no plate you may read")
    return plates, errors


def _form_state(ident: Identity) -> dict[str, Any]:
    form = request.form if request.method == "POST" else request.args
    readable = platform().catalog.plates_for_user(ident.omero_user_id)
    # ?screen=ID (a link from OMERO.web) preselects the screen's plates the user may read
    screen_plates, screen_errors = _screen_plates(ident, _ids(form.getlist("screen")))
    chosen_ids = _ids(form.getlist("plate")) | screen_plates
    off = pipeline_admin.disabled(platform())
    names = [n for n in registry.names() if n not in off] or registry.names()
    asked = form.get("pipeline") or ""
    notice = None
    if asked and asked in off:
        notice = (f"The pipeline {asked!r} is disabled by an administrator, so it cannot be "
                  f"queued; choose another below, or ask an administrator to enable it.")
    pipeline = asked if asked and asked not in off else (
        "nuclei-count" if "nuclei-count" in names else names[0])
    wells = {w.strip().upper() for w in form.getlist("well") if w.strip()}
    return {"readable": readable, "chosen_ids": chosen_ids, "pipeline": pipeline,
            "pipelines": [registry.get(n) for n in names], "notice": notice,
            "chosen_wells": wells, "screen_errors": screen_errors}


def _well_errors(chosen: list[PlateInfo], wells: dict[int, list[WellRef]],
                 labels: set[str]) -> list[str]:
    """One message per chosen plate that lacks some of the chosen wells."""
    out = []
    for p in chosen:
        have = {w.label.upper() for w in wells[p.id] if w.fields}
        missing = sorted(labels - have)
        if missing:
            out.append(f"plate {p.name!r} has no images in well(s) "
                       f"{', '.join(missing[:12])}{' …' if len(missing) > 12 else ''}")
    return out


def _subset_estimate(est: estimates.Estimate, wells: dict[int, list[WellRef]],
                     labels: set[str]) -> estimates.Estimate:
    """The estimate for just the chosen wells (bytes pro rata by fields)."""
    plates = []
    for p in est.plates:
        chosen = [w for w in wells[p.plate_id] if w.label.upper() in labels]
        n_fields = sum(len(w.fields) for w in chosen)
        plates.append(replace(p, wells=len(chosen), fields=n_fields,
                              bytes=p.bytes * n_fields // max(1, p.fields)))
    return replace(est, plates=tuple(plates))


@bp.route("/submit", methods=["GET", "POST"])
def submit() -> Any:
    ident = page_identity()
    state = _form_state(ident)
    errors: list[str] = list(state["screen_errors"])
    try:
        pipe = registry.get(state["pipeline"])
    except ValueError as exc:
        pipe = registry.get(registry.names()[0])
        errors.append(str(exc))
    action = request.form.get("action", "") if request.method == "POST" else ""
    # a new pipeline starts from its own defaults; everything else keeps what was typed
    fields = param_fields(pipe, request.form if action not in ("", "reload") else None)
    readable = {p.id: p for p in state["readable"]}
    unknown = state["chosen_ids"] - set(readable)
    if unknown:
        errors.append(f"you may not read plate(s) {sorted(unknown)}")
    chosen = [readable[i] for i in sorted(state["chosen_ids"]) if i in readable]
    wells = {p.id: platform().catalog.wells(p.id) for p in chosen}
    channels = sorted({c for p in (chosen or state["readable"]) for c in p.channels})
    labels: set[str] = state["chosen_wells"]
    est = None
    status = 200
    if action in ("estimate", "queue"):
        if not chosen:
            errors.append("choose at least one plate")
        errors.extend(_well_errors(chosen, wells, labels))
        values = validate(pipe, fields, chosen)
        bad = [f for f in fields if f.error]
        if bad:
            errors.append(f"{len(bad)} parameter(s) need fixing (marked below)")
        if errors:
            status = 422
        elif action == "estimate":
            est = estimates.estimate(platform(), user_id=ident.omero_user_id,
                                     plate_ids=[p.id for p in chosen], pipeline=pipe.name)
            if labels:
                est = _subset_estimate(est, wells, labels)
        else:
            return _queue(ident, pipe, chosen, values, sorted(labels) or None,
                          _context(pipe, fields, chosen, wells, channels, state))
    return render_template("submit.html", errors=errors, estimate=est, queued=[],
                           **_context(pipe, fields, chosen, wells, channels, state)), status


def _context(pipe: Pipeline, fields: list[ParamField], chosen: list[PlateInfo],
             wells: dict[int, list[WellRef]], channels: list[str],
             state: dict[str, Any]) -> dict[str, Any]:
    for f in fields:
        if f.is_channel:
            f.picks = channel_picks(pipe, f, chosen)
    # a plate beyond the largest known geometry gets no picker (submit refuses it anyway)
    geometry = next(filter(None, (run_service.geometry_problem(p, wells.get(p.id, []))
                                  for p in chosen)), None)
    picker = None if geometry else well_picker(chosen, wells, state["chosen_wells"])
    return {"fields": fields, "pipe": pipe, "chosen": chosen, "channels": channels,
            "groups": groups(pipe, fields), "picker": picker, "geometry": geometry,
            **state}


def _queue(ident: Identity, pipe: Pipeline, chosen: list[PlateInfo],
           values: dict[str, object], labels: list[str] | None,
           context: dict[str, Any]) -> Any:
    """Submit one run per plate; stop at the first refusal and say what was queued."""
    queued: list[run_service.RunView] = []
    for p in chosen:
        try:
            queued.append(run_service.submit(platform(), omename=ident.omename, plate_id=p.id,
                                             pipeline=pipe.name, params=values,
                                             actor=f"{ident.via}:{ident.omename}",
                                             well_labels=labels))
            attach_omero_session(queued[-1].run_id)
        except PlatequeueError as exc:
            headers = {}
            if getattr(exc, "retry_after", None) is not None:
                headers["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
            return render_template("submit.html", estimate=None, queued=queued,
                                   errors=[f"plate {p.name!r}: {exc}"], **context), \
                exc.status, headers
    if len(queued) == 1:
        return redirect(url_for("pages_runs.run", run_id=queued[0].run_id), 303)
    return redirect(url_for("pages.runs"), 303)


@bp.app_template_filter("param_value")
def _param_value(value: Any) -> str:
    return shown(value)


@bp.app_template_filter("human_bytes")
def _human_bytes(n: float) -> str:
    return estimates.human_bytes(n)


@bp.app_template_filter("human_seconds")
def _human_seconds(s: float | None) -> str:
    return estimates.human_seconds(s)
