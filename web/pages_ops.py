"""Operator pages: the queue overview (operators and admins); the audit log and pipeline
management (admins)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from platequeue.accounts import pipeline_admin
from platequeue.ops import overview
from platequeue.store import Role
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


@bp.route("/queue")
def queue() -> Any:
    _role(Role.OPERATOR)
    return render_template("queue.html", view=overview.queue_overview(platform()),
                           flower_url=f"/{platform().settings.flower_url_prefix}/")


@bp.route("/audit")
def audit() -> Any:
    _role(Role.ADMIN)
    page = request.args.get("page", "1")
    action = request.args.get("action") or None
    number = int(page) if page.isascii() and page.isdigit() and len(page) < 10 else 1
    found = overview.audit_page(platform(), page=number,
                                per_page=50, action=action)
    return render_template("audit.html", audit=found, action=action,
                           actions=overview.audit_actions(platform()))


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
