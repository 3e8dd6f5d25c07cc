"""The signed-in user's account: API tokens (list, create — shown once —, revoke), and the
operators' read-only list of accounts and roles.

Tokens are managed from a browser session only (a token cannot mint tokens); every POST
carries the CSRF token (checked in :func:`web.auth.load_identity`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for

from platequeue.accounts import tokens
from platequeue.accounts import users as accounts_users
from platequeue.store import Role
from web.auth import Identity, platform, require

bp = Blueprint("account", __name__, url_prefix="/account")


def _browser_user() -> Identity:
    ident: Identity | None = g.identity
    if ident is None:
        abort(redirect(url_for("auth.login", next=request.path)))
    if ident.via != "session":
        abort(403, "API tokens are managed from a signed-in browser, not with a token")
    return ident


def _page(ident: Identity, *, created: str | None = None, error: str | None = None,
          status: int = 200) -> Any:
    html = render_template("tokens.html", tokens=tokens.list_for(platform(), ident.user_id),
                           created=created, error=error, scopes=tokens.SCOPES,
                           max_days=tokens.MAX_DAYS)
    return html, status, {"Cache-Control": "no-store"}


@bp.get("/tokens")
def token_list() -> Any:
    return _page(_browser_user())


@bp.post("/tokens")
def token_create() -> Any:
    ident = _browser_user()
    raw_days = request.form.get("days", "30").strip()
    if not (raw_days.isascii() and raw_days.isdigit()) or len(raw_days) > 6:
        return _page(ident, error=f"days {raw_days!r} must be a whole number", status=422)
    try:
        created = tokens.create(platform(), ident.user_id, name=request.form.get("name", ""),
                                scope=request.form.get("scope", "read"), days=int(raw_days))
    except ValueError as exc:
        return _page(ident, error=str(exc), status=422)
    return _page(ident, created=created, status=201)


@bp.post("/tokens/<int(max=2147483647):token_id>/revoke")  # an integer column
def token_revoke(token_id: int) -> Any:
    ident = _browser_user()
    if not tokens.revoke(platform(), token_id, user_id=ident.user_id):
        abort(404, f"you have no token with id {token_id}")
    return redirect(url_for("account.token_list"), code=303)


@bp.get("/users")
def users() -> Any:
    """Accounts and their roles (operators and admins only)."""
    require(role=Role.OPERATOR.value)
    return jsonify([{"id": u.id, "omename": u.omename, "omero_user_id": u.omero_user_id,
                     "role": u.role} for u in accounts_users.list_users(platform())])
