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
from platequeue.accounts import Identity, ensure_user, policy, tokens, users
from platequeue.errors import PlatequeueError
from platequeue.omero import websession
from platequeue.platform import Platform
from platequeue.store import User
from web.redirects import safe_next, without_param
from web.sessions import rotate

__all__ = ["Identity", "platform", "require", "sign_in"]

bp = Blueprint("auth", __name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SWITCH_KEY = "pending_switch"  # a bsession for another user, waiting for confirmation


def platform() -> Platform:
    found: Platform = current_app.extensions["platform"]
    return found


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def check_csrf() -> None:
    """403 unless the request carries this session's CSRF token (compared as bytes, so a
    header with non-ASCII characters is a refusal, not an error)."""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = str(session.get("csrf", ""))
    if not sent or not expected or not hmac.compare_digest(
            sent.encode("utf-8", "surrogateescape"), expected.encode()):
        abort(403, "missing or wrong CSRF token")


def _identity(user: User, scope: str, via: str) -> Identity:
    return Identity(user.id, user.omename, user.omero_user_id, user.role, scope, via)


def _load_user(user_id: Any) -> User | None:
    if not isinstance(user_id, int):
        return None
    return users.by_id(platform(), user_id)


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


def _signed_in_user_id() -> int | None:
    found = (session.get("user") or {}).get("id")
    return found if isinstance(found, int) else None


def _from_omero_session() -> Any:
    """Sign in from an OMERO session the request names. Returns True if the header
    authenticated this request alone, a redirect response for a ``bsession`` link (the key
    leaves the address bar; another user's key waits for confirmation on
    ``/login/switch``), else False. A named key that does not validate is refused (401);
    an OMERO.web cookie that does not is ignored (the visitor is simply not signed in)."""
    headers = dict(request.headers)
    cand = websession.pick_session(headers, request.args, request.cookies)
    if cand is None:
        return False
    signed_in = _signed_in_user_id()
    if signed_in is not None and cand.kind == "cookie":
        return False
    p = platform()
    store = websession.SessionStore(p.omero_web_redis, p.settings.omero_web_cache_prefix,
                                    p.settings.omero_web_cache_version)
    found = None
    if signed_in is None or cand.value != current_omero_session_key():
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
        if signed_in is not None and signed_in != user.id:
            return _ask_before_switching(found.uuid, user)
        if signed_in is None or cand.kind == "cookie":
            sign_in(user, via=f"omero-{cand.kind}", omero_session_key=found.uuid)
        else:  # the same user with a new key: keep the session, use the new key
            session["omero"] = {"key": found.uuid}
    if cand.kind == "bsession":
        if request.method not in SAFE_METHODS:
            abort(400, "send bsession with a GET (a link), not with a form or API call")
        return _no_store(redirect(without_param(request.path, request.args), 303))
    return False


def _no_store(resp: Any) -> Any:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _ask_before_switching(key: str, user: User) -> Any:
    """A link carrying another user's OMERO session: never switch silently (login CSRF);
    keep the key server-side and ask on ``/login/switch``."""
    if request.method not in SAFE_METHODS:
        abort(403, "this OMERO session belongs to another user; sign out first")
    session[SWITCH_KEY] = {"key": key, "user_id": user.id, "omename": user.omename,
                           "next": without_param(request.path, request.args)}
    return _no_store(redirect(url_for("auth.switch"), 303))


@bp.before_app_request
def load_identity() -> Any:
    g.identity = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        found = tokens.authenticate(platform(), header.removeprefix("Bearer ").strip())
        if found is None:
            abort(401, "invalid, revoked or expired API token")
        token_user, scope = found
        g.identity = _identity(token_user, scope, "token")
    else:
        outcome = _from_omero_session()
        if outcome is not True and outcome is not False:
            return outcome
        if outcome is False and "user" in session:
            user = _load_user(_signed_in_user_id())
            if user is None:
                session.clear()
                return None
            g.identity = _identity(user, "submit", "session")
            if request.method not in SAFE_METHODS:
                check_csrf()
    if g.identity is not None and request.method not in SAFE_METHODS:
        # every state-changing route, page or API alike, needs a submit-scoped credential
        policy.require(g.identity, scope="submit")
    return None


def require(scope: str = "read", role: str | None = None) -> Identity:
    """The caller's identity, or abort: 401 when anonymous, 403 when the token may only read
    or the user's role is below *role* (``operator`` or ``admin``); the rule is
    :func:`platequeue.accounts.policy.require`."""
    ident: Identity | None = g.identity
    if ident is None:
        abort(401, "sign in or send an API token")
    return policy.require(ident, scope=scope, role=role)


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


@bp.route("/login/switch", methods=["GET", "POST"])
def switch() -> Any:
    """Confirm (or decline) signing in as the user of an OMERO session a link carried
    while someone else is signed in here. The POST carries this session's CSRF token."""
    pending = session.get(SWITCH_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("key"), str):
        abort(404, "there is no sign-in waiting for confirmation")
    target = safe_next(pending.get("next")) or url_for("pages.runs")
    if request.method == "GET":
        return _no_store(current_app.make_response(render_template(
            "switch.html", pending=pending, current=g.get("identity"))))
    session.pop(SWITCH_KEY, None)
    if request.form.get("confirm") != "yes":
        return redirect(target, 303)
    found = websession.validate_session_key(platform().omero, pending["key"])
    user = None if found is None else _omero_user(found)
    if found is None or user is None or user.id != pending.get("user_id"):
        abort(401, "the OMERO session is closed, expired or unknown")
    sign_in(user, via="omero-bsession", omero_session_key=found.uuid)
    return redirect(target, 303)
