"""The submit page: plates, a pipeline, its parameters as a generated form, a dry-run estimate.

Parameters come from the pipeline's declarations (type, default, bounds); each value is
checked server-side with the pipeline's own coercion, and an error is shown beside its field
with everything the user typed kept. Channel roles map to the plates' channel names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from pipelines import registry
from pipelines.engine import Pipeline
from platequeue import runs as run_service
from platequeue.accounts import pipeline_admin
from platequeue.errors import PlatequeueError
from platequeue.omero import PlateInfo
from platequeue.runs import estimate as estimates
from web.auth import Identity, attach_omero_session, platform
from web.pages import install_error_pages, page_identity

bp = Blueprint("pages_submit", __name__)
install_error_pages(bp)

PREFIX = "p:"


@dataclass
class ParamField:
    key: str
    type: str
    default: Any
    value: str  # as shown in the form
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    choices: list[str] | None = None
    nullable: bool = False
    error: str | None = None

    @property
    def is_channel(self) -> bool:
        return self.key.startswith("channels.")

    @property
    def bounds(self) -> str:
        parts = [f"{sign} {v:g}" for sign, v in (("≥", self.minimum),
                                                  (">", self.exclusive_minimum),
                                                  ("≤", self.maximum)) if v is not None]
        return ", ".join(parts)

    @property
    def step(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def param_fields(pipe: Pipeline, form: MultiDict[str, str] | None) -> list[ParamField]:
    out = []
    for key, d in pipe.parameters().items():
        sent = form.getlist(PREFIX + key) if form is not None else []
        out.append(ParamField(
            key=key, type=d["type"], default=d["default"],
            value=sent[-1] if sent else _shown(d["default"]), description=d["description"],
            minimum=d.get("minimum"), maximum=d.get("maximum"),
            exclusive_minimum=d.get("exclusiveMinimum"), choices=d.get("enum"),
            nullable=bool(d.get("nullable"))))
    return out


def _check_channel(pipe: Pipeline, f: ParamField, plates: list[PlateInfo]) -> str | None:
    """An error if the role's channel (named, or the spec's mapping) is missing on a plate."""
    role = f.name
    mapping = pipe.spec["channels"][role]
    for p in plates:
        lower = [c.lower() for c in p.channels]
        if f.value.strip():
            if f.value.strip().lower() not in lower:
                return f"plate {p.name!r} has no channel {f.value!r} ({', '.join(p.channels)})"
        elif not any(n.lower() in lower for n in mapping.get("names", [])) and \
                mapping.get("index", len(lower)) >= len(lower):
            return f"choose a channel: none of {mapping.get('names')} on plate {p.name!r}"
    return None


def validate(pipe: Pipeline, fields: list[ParamField],
             plates: list[PlateInfo]) -> dict[str, object]:
    """Coerced parameter values; sets ``error`` on each bad field."""
    values: dict[str, object] = {}
    for f in fields:
        try:
            values.update({f.key: pipe.resolve_params({f.key: f.value})[f.key]})
        except ValueError as exc:
            f.error = str(exc).rsplit(": ", 1)[-1]
            continue
        if f.is_channel:
            f.error = _check_channel(pipe, f, plates)
    return values


def _form_state(ident: Identity) -> dict[str, Any]:
    form = request.form if request.method == "POST" else request.args
    readable = platform().catalog.plates_for_user(ident.omero_user_id)
    chosen_ids = {int(v) for v in form.getlist("plate") if v.isascii() and v.isdigit()}
    off = pipeline_admin.disabled(platform())
    names = [n for n in registry.names() if n not in off] or registry.names()
    pipeline = form.get("pipeline") or ("nuclei-count" if "nuclei-count" in names else names[0])
    return {"readable": readable, "chosen_ids": chosen_ids, "pipeline": pipeline,
            "pipelines": [registry.get(n) for n in names]}


@bp.route("/submit", methods=["GET", "POST"])
def submit() -> Any:
    ident = page_identity()
    state = _form_state(ident)
    errors: list[str] = []
    try:
        pipe = registry.get(state["pipeline"])
    except ValueError as exc:
        pipe = registry.get(registry.names()[0])
        errors.append(str(exc))
    action = request.form.get("action", "") if request.method == "POST" else ""
    fields = param_fields(pipe, request.form if action in ("estimate", "queue") else None)
    readable = {p.id: p for p in state["readable"]}
    unknown = state["chosen_ids"] - set(readable)
    if unknown:
        errors.append(f"you may not read plate(s) {sorted(unknown)}")
    chosen = [readable[i] for i in sorted(state["chosen_ids"]) if i in readable]
    channels = sorted({c for p in (chosen or state["readable"]) for c in p.channels})
    est = None
    status = 200
    if action in ("estimate", "queue"):
        if not chosen:
            errors.append("choose at least one plate")
        values = validate(pipe, fields, chosen)
        bad = [f for f in fields if f.error]
        if bad:
            errors.append(f"{len(bad)} parameter(s) need fixing (marked below)")
        if errors:
            status = 422
        elif action == "estimate":
            est = estimates.estimate(platform(), user_id=ident.omero_user_id,
                                     plate_ids=[p.id for p in chosen], pipeline=pipe.name)
        else:
            return _queue(ident, pipe, chosen, values, fields, state, channels)
    return render_template("submit.html", fields=fields, pipe=pipe, chosen=chosen,
                           channels=channels, errors=errors, estimate=est,
                           queued=[], **state), status


def _queue(ident: Identity, pipe: Pipeline, chosen: list[PlateInfo],
           values: dict[str, object], fields: list[ParamField], state: dict[str, Any],
           channels: list[str]) -> Any:
    """Submit one run per plate; stop at the first refusal and say what was queued."""
    queued: list[run_service.RunView] = []
    for p in chosen:
        try:
            queued.append(run_service.submit(platform(), omename=ident.omename, plate_id=p.id,
                                             pipeline=pipe.name, params=values,
                                             actor=f"{ident.via}:{ident.omename}"))
            attach_omero_session(queued[-1].run_id)
        except PlatequeueError as exc:
            headers = {}
            if getattr(exc, "retry_after", None) is not None:
                headers["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
            return render_template("submit.html", fields=fields, pipe=pipe, chosen=chosen,
                                   channels=channels, estimate=None, queued=queued,
                                   errors=[f"plate {p.name!r}: {exc}"], **state), \
                exc.status, headers
    if len(queued) == 1:
        return redirect(url_for("pages_runs.run", run_id=queued[0].run_id), 303)
    return redirect(url_for("pages.runs"), 303)


@bp.app_template_filter("param_value")
def _param_value(value: Any) -> str:
    return _shown(value)


@bp.app_template_filter("human_bytes")
def _human_bytes(n: float) -> str:
    return estimates.human_bytes(n)


@bp.app_template_filter("human_seconds")
def _human_seconds(s: float | None) -> str:
    return estimates.human_seconds(s)
