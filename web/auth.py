"""Who is asking, and may they: identities, sign-in/out, CSRF and role checks.

An identity comes from an API token (``Authorization: Bearer``), an OMERO session key in the
``X-OMERO-Session-Key`` header (per request, like a token), or the server-side session
(:mod:`web.sessions`) that a sign-in filled: OIDC (:mod:`web.oidc`), OMERO password
(:mod:`web.omero_login`), an OMERO.web session (``sessionid`` cookie or ``bsession``
parameter, below) or, in development only, the ``/login`` form. The role is read from
``users.role`` on every request; :func:`require` checks scope and role on every route.
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

from platequeue import runs as run_service
from platequeue.accounts import ensure_user, tokens
from platequeue.errors import PlatequeueError
from platequeue.omero import websession
from platequeue.platform import Platform
from platequeue.store import Role, User, session_scope
from web.sessions import rotate

bp = Blueprint("auth", __name__)

# developer: user rights plus custom steps, an orthogonal trust flag (not above operator)
ROLE_RANK = {Role.USER.value: 0, Role.DEVELOPER.value: 0, Role.OPERATOR.value: 1,
             Role.ADMIN.value: 2}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Identity:
    user_id: int
    omename: str
    omero_user_id: int
    role: str
    scope: str  # read | submit
    via: str  # token | session | omero-header

    @property
    def sees_everything(self) -> bool:
        return self.role in (Role.OPERATOR.value, Role.ADMIN.value)

    def has_role(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[Role(role).value]


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


def _identity(user: User, scope: str, via: str) -> Identity:
    return Identity(user.id, user.omename, user.omero_user_id, user.role, scope, via)


def _load_user(user_id: Any) -> User | None:
    if not isinstance(user_id, int):
        return None
    with session_scope(platform().audit) as s:
        user = s.get(User, user_id)
        if user is not None:
            s.expunge(user)
        return user


def sign_in(user: User, *, via: str, omero_session_key: str | None = None) -> None:
    """Start a fresh session for *user*: old data dropped, a new session id, a new CSRF
    token. The OMERO session key (if any) is kept for write-back and keep-alive."""
    session.clear()
    rotate(session)
    session["user"] = {"id": user.id, "via": via}
    if omero_session_key:
        session["omero"] = {"key": omero_session_key}
    csrf_token()
    g.identity = _identity(user, "submit", "session")


def current_omero_session_key() -> str | None:
    """The OMERO session key of this request's user, when they came from OMERO."""
    found = g.get("omero_session_key") or (session.get("omero") or {}).get("key")
    return str(found) if found else None


def attach_omero_session(run_id: int) -> bool:
    """Let a run just submitted carry this user's OMERO session (for the write-back and the
    keep-alive); False when the user did not come from OMERO (OIDC, token, dev sign-in)."""
    key = current_omero_session_key()
    if key is None:
        return False
    run_service.attach_omero_session(platform(), run_id, key)
    return True


def _omero_user(key_session: websession.OmeroSession) -> User | None:
    exp = platform().catalog.user(key_session.owner_id)
    return None if exp is None else ensure_user(platform(), exp.omename)


def _from_omero_session() -> bool:
    """Sign in from an OMERO session the request names; True if the header authenticated
    this request alone. A named key that does not validate is refused (401); an OMERO.web
    cookie that does not is ignored (the visitor is then simply not signed in)."""
    headers = dict(request.headers)
    cand = websession.pick_session(headers, request.args, request.cookies)
    if cand is None:
        return False
    if "user" in session and (cand.kind == "cookie" or cand.value == current_omero_session_key()):
        return False
    p = platform()
    store = websession.SessionStore(p.omero_web_redis, p.settings.omero_web_cache_prefix,
                                    p.settings.omero_web_cache_version)
    found = websession.resolve_request_session(headers, request.args, request.cookies,
                                               redis=store, engine=p.omero)
    user = None if found is None else _omero_user(found)
    if found is None or user is None:
        if cand.is_omero_key:
            abort(401, "the OMERO session is closed, expired or unknown")
        return False
    if cand.kind == "header":
        g.identity = _identity(user, "submit", "omero-header")
        g.omero_session_key = found.uuid
        return True
    sign_in(user, via=f"omero-{cand.kind}", omero_session_key=found.uuid)
    return False


@bp.before_app_request
def load_identity() -> None:
    g.identity = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        found = tokens.authenticate(platform(), header.removeprefix("Bearer ").strip())
        if found is None:
            abort(401, "invalid, revoked or expired API token")
        token_user, scope = found
        g.identity = _identity(token_user, scope, "token")
        return
    if _from_omero_session():
        return
    if "user" in session:
        user = _load_user(session["user"].get("id"))
        if user is None:
            session.clear()
            return
        g.identity = _identity(user, "submit", "session")
        if request.method not in SAFE_METHODS:
            check_csrf()


def require(scope: str = "read", role: str | None = None) -> Identity:
    """The caller's identity, or abort: 401 when anonymous, 403 when the token may only read
    or the user's role is below *role* (``operator`` or ``admin``)."""
    ident: Identity | None = g.identity
    if ident is None:
        abort(401, "sign in or send an API token")
    if scope == "submit" and ident.scope != "submit":
        abort(403, "this token may only read")
    if role is not None and not ident.has_role(role):
        abort(403, f"this needs the {role} role; you are {ident.role}")
    return ident


def dev_login_allowed() -> bool:
    """The development sign-in: APP_ENV=development only, never in production."""
    return bool(current_app.config.get("DEV_LOGIN")) and \
        platform().settings.app_env != "production"


@bp.app_context_processor
def inject() -> dict[str, Any]:
    return {"identity": g.get("identity"), "csrf_token": csrf_token}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in page: the methods this deployment offers. Its POST is the development
    sign-in (pick an OMERO user name), refused outside development."""
    settings = platform().settings
    error = None
    if request.method == "POST":
        if not dev_login_allowed():
            abort(404, "development sign-in is not available here")
        check_csrf()
        omename = request.form.get("omename", "").strip()
        try:
            user = ensure_user(platform(), omename)
        except PlatequeueError as exc:
            error = str(exc)
        else:
            sign_in(user, via="dev")
            return redirect(url_for("pages.runs"))
    return render_template("login.html", error=error, oidc=settings.oauth.enabled,
                           omero_password=bool(settings.omero_host),
                           dev_login=dev_login_allowed()), 400 if error else 200


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Sign out here; then at the identity provider too when ``OAUTH_LOGOUT_URL`` is set."""
    session.clear()
    logout_url = platform().settings.oauth.logout_url
    return redirect(logout_url or url_for("auth.login"))
