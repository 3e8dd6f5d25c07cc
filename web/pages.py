"""Server-rendered pages (the web issue grows these into the full UI)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, url_for

from platequeue import runs as run_service
from web.auth import platform

bp = Blueprint("pages", __name__)


@bp.route("/")
def index() -> Any:
    return redirect(url_for("pages.runs"))


@bp.route("/runs", endpoint="runs")
def runs_page() -> Any:
    """The user's runs (everyone's for operators), refreshed live from the JSON API."""
    ident = g.identity
    if ident is None:
        return redirect(url_for("auth.login"))
    who = None if ident.sees_everything else ident.omename
    return render_template("runs.html", runs=run_service.list_runs(platform(), omename=who))
