"""OMERO user name and password sign-in through BlitzGateway, when ``OMERO_HOST`` is set.

:func:`password_session` is the only code that talks to the OMERO server; omero-py is
imported there, lazily (it is an optional extra). The OMERO session it opens is detached
with ``close(hard=False)`` and its key kept in our server-side session, for write-back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from platequeue.accounts import ensure_user
from platequeue.errors import PlatequeueError
from web.auth import check_csrf, dev_login_allowed, platform, sign_in

logger = logging.getLogger(__name__)

bp = Blueprint("omero_login", __name__)


class OmeroUnavailable(RuntimeError):
    """omero-py is missing or the server did not answer."""


@dataclass(frozen=True)
class OmeroLogin:
    session_key: str
    omename: str
    user_id: int


def password_session(host: str, port: int, username: str, password: str) -> OmeroLogin | None:
    """Open an OMERO session with a user name and password; None when they are wrong."""
    try:
        import Ice
        from omero.gateway import BlitzGateway
    except ImportError as exc:
        raise OmeroUnavailable("omero-py is not installed (pip install 'platequeue[omero]')") \
            from exc
    conn = BlitzGateway(username, password, host=host, port=port, secure=True)
    try:
        if not conn.connect():
            return None
        ctx = conn.getEventContext()
        return OmeroLogin(str(ctx.sessionUuid), str(ctx.userName), int(ctx.userId))
    except Ice.Exception as exc:
        raise OmeroUnavailable(f"the OMERO server at {host}:{port} did not answer") from exc
    finally:
        conn.close(hard=False)  # detach only: the session is the user's sign-in


@bp.route("/login/omero", methods=["POST"])
def login() -> Any:
    settings = platform().settings
    if not settings.omero_host:
        abort(404, "OMERO password sign-in is not configured here (OMERO_HOST is unset)")
    check_csrf()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    error, status = None, 401
    if not username or not password:
        error = "enter your OMERO user name and password"
    else:
        try:
            found = password_session(settings.omero_host, settings.omero_port, username,
                                     password)
        except OmeroUnavailable as exc:
            logger.error("OMERO password sign-in unavailable: %s", exc)
            error, status = str(exc), 503
        else:
            if found is None:
                error = "wrong OMERO user name or password"
            else:
                try:
                    user = ensure_user(platform(), found.omename)
                except PlatequeueError as exc:
                    error = str(exc)
                else:
                    sign_in(user, via="omero-password", omero_session_key=found.session_key)
                    return redirect(url_for("pages.runs"))
    return render_template("login.html", error=error, oidc=settings.oauth.enabled,
                           omero_password=True, dev_login=dev_login_allowed()), status
