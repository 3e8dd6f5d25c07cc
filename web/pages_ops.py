"""Operator pages: the queue overview, refreshed live from ``/ops/queue.json`` (operators
and admins); the audit log, filterable by user, run, action and date, and pipeline
management (admins)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for

from platequeue.accounts import pipeline_admin
from platequeue.ops import overview
from platequeue.store import Role
from web import ops_views
from web.auth import Identity, platform
from web.pages import install_error_pages, page_identity

bp = Blueprint("pages_ops", __name__, url_prefix="/ops")
install_error_pages(bp)


def _role(role: Role) -> Identity:
    """The signed-in user if they have at least *role*; 403 otherwise."""
    ident = page_identity()
    if not ident.has_role(role.value):
        who = "operators and admins" if role is Role.OPERATOR else f"{role.value}s"
        abort(403, f"this page is for {who}")
    return ident


def _queue_state() -> dict[str, Any]:
    return {"view": overview.queue_overview(platform()), "flow": ops_views.flow(platform())}


@bp.route("/queue")
def queue() -> Any:
    _role(Role.OPERATOR)
    flower = ops_views.flower_url(platform(), request.headers, request.host, request.scheme)
    return render_template("queue.html", flower_url=flower, **_queue_state())


@bp.route("/queue.json")
def queue_json() -> Any:
    """The same numbers as the page, for its live refresh."""
    _role(Role.OPERATOR)
    state = _queue_state()
    flow = state["flow"]
    oldest = None
    if flow.oldest is not None:
        oldest = {**asdict(flow.oldest), "since": flow.oldest.since.isoformat(),
                  "run_url": url_for("pages_runs.run", run_id=flow.oldest.run_id)}
    return jsonify({
        "broker_ok": state["view"].broker_ok,
        "queues": [asdict(q) for q in state["view"].queues],
        "workers": [asdict(w) for w in state["view"].workers],
        "users": [asdict(u) for u in state["view"].users],
        "wells_per_minute": flow.wells_per_minute, "ended_recently": flow.ended_recently,
        "minutes": flow.minutes, "oldest": oldest,
        "active": [{**asdict(r), "url": url_for("pages_runs.run", run_id=r.run_id)}
                   for r in flow.active]})


@bp.route("/audit")
def audit() -> Any:
    _role(Role.ADMIN)
    page = request.args.get("page", "1")
    flt, errors = ops_views.parse_filter(request.args)
    number = int(page) if page.isascii() and page.isdigit() and len(page) < 7 else 1
    found = ops_views.audit_search(platform(), flt, page=number)
    return render_template("audit.html", audit=found, flt=flt, errors=errors,
                           actions=overview.audit_actions(platform()),
                           users=ops_views.audit_users(platform())), 422 if errors else 200


@bp.route("/pipelines", methods=["GET", "POST"])
def pipelines() -> Any:
    """Enable or disable pipelines for submission (CSRF-checked POST, audited)."""
    ident = _role(Role.ADMIN)
    if request.method == "POST":
        name = request.form.get("name", "")
        enabled = request.form.get("enabled") == "true"
        if pipeline_admin.set_enabled(platform(), name, enabled,
                                      actor=f"{ident.via}:{ident.omename}"):
            flash(f"{name} {'enabled' if enabled else 'disabled'}")
        return redirect(url_for("pages_ops.pipelines"), code=303)
    return render_template("pipelines_admin.html", pipelines=pipeline_admin.states(platform()))
