"""Who is asking: API tokens (``Authorization: Bearer``) or the signed-in browser session.

The browser sign-in here is the local development one (``APP_ENV=development`` only); the
web issue adds OIDC, OMERO.web sessions and OMERO passwords on the same ``g.user``.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from platequeue import tokens
from platequeue.errors import PlatequeueError
from platequeue.models import Role
from platequeue.platform import Platform
from platequeue.runs import ensure_user

bp = Blueprint("auth", __name__)


@dataclass(frozen=True)
class Identity:
    user_id: int
    omename: str
    omero_user_id: int
    role: str
    scope: str  # read | submit
    via: str  # token | session

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.OPERATOR.value, Role.ADMIN.value)


def platform() -> Platform:
    found: Platform = current_app.extensions["platform"]
    return found


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def check_csrf() -> None:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    if not hmac.compare_digest(sent, str(session.get("csrf", ""))) or not sent:
        abort(403, "missing or wrong CSRF token")


@bp.before_app_request
def load_identity() -> None:
    g.identity = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        found = tokens.authenticate(platform(), header.removeprefix("Bearer ").strip())
        if found is None:
            abort(401, "invalid, revoked or expired API token")
        user, scope = found
        g.identity = Identity(user.id, user.omename, user.omero_user_id, user.role, scope,
                              "token")
    elif "user" in session:
        u = session["user"]
        g.identity = Identity(u["id"], u["omename"], u["omero_user_id"], u["role"], "submit",
                              "session")
        if request.method == "POST":
            check_csrf()


def require(scope: str = "read") -> Identity:
    ident: Identity | None = g.identity
    if ident is None:
        abort(401, "sign in or send an API token")
    if scope == "submit" and ident.scope != "submit":
        abort(403, "this token may only read")
    return ident


@bp.app_context_processor
def inject() -> dict[str, Any]:
    return {"identity": g.get("identity"), "csrf_token": csrf_token}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Local development sign-in: pick an OMERO user name. Refused outside development."""
    if not current_app.config["DEV_LOGIN"]:
        abort(404)
    error = None
    if request.method == "POST":
        check_csrf()
        omename = request.form.get("omename", "").strip()
        try:
            user = ensure_user(platform(), omename)
        except PlatequeueError as exc:
            error = str(exc)
        else:
            session.clear()
            session["user"] = {"id": user.id, "omename": user.omename,
                               "omero_user_id": user.omero_user_id, "role": user.role}
            csrf_token()
            return redirect(url_for("pages.runs"))
    return render_template("login.html", error=error), 400 if error else 200


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))
