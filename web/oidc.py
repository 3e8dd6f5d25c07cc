"""OIDC sign-in through authlib's Flask client: authorization code with PKCE, ``state``
and ``nonce``; the ID token's signature (JWKS), issuer, audience and expiry are checked.

The provider is found through ``OAUTH_DISCOVERY_URL`` or given by explicit endpoints
(``OAUTH_AUTH_URL``, ``OAUTH_TOKEN_URL``, ``OAUTH_JWKS_URL``, ``OAUTH_ISSUER``). 2FA
happens at the provider. The identity maps to an OMERO experimenter: the ``omename`` or
``preferred_username`` claim to ``experimenter.omename``, else (unless
``OAUTH_EMAIL_MAPPING=false``) an ``email`` the provider marks ``email_verified`` to
``experimenter.email``; no match is refused (403) and no account is created. ``next`` is
followed only as a same-origin path (:func:`web.redirects.safe_next`).
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from joserfc.errors import JoseError
from requests import RequestException

from platequeue.accounts import ensure_user
from platequeue.platform import Platform
from platequeue.settings import OidcSettings
from web.auth import platform, sign_in
from web.redirects import safe_next

logger = logging.getLogger(__name__)

bp = Blueprint("oidc", __name__, url_prefix="/oidc")
EXTENSION = "platequeue.oidc"
LEEWAY = 60  # seconds of clock skew allowed on exp/iat
TIMEOUT = 10


def init_app(app: Flask, platform: Platform) -> None:
    """Register the blueprint and, when OIDC is configured, the authlib client."""
    app.register_blueprint(bp)
    conf = platform.settings.oauth
    if not conf.enabled:
        return
    explicit = {"authorize_url": conf.auth_url, "access_token_url": conf.token_url,
                "jwks_uri": conf.jwks_url, "issuer": conf.issuer,
                "userinfo_endpoint": conf.userinfo_url}
    if not conf.discovery_url and not conf.issuer:
        logger.warning("OAUTH_ISSUER is unset: ID-token issuers cannot be checked")
    oauth = OAuth(app)
    app.extensions[EXTENSION] = oauth.register(
        "idp", client_id=conf.client_id, client_secret=conf.client_secret,
        server_metadata_url=conf.discovery_url,
        client_kwargs={"scope": conf.scope, "code_challenge_method": "S256",
                       "default_timeout": TIMEOUT},
        **{k: v for k, v in explicit.items() if v})


def _client() -> FlaskOAuth2App:
    client: FlaskOAuth2App | None = current_app.extensions.get(EXTENSION)
    if client is None:
        abort(404, "OIDC sign-in is not configured (set OAUTH_CLIENT_ID and the provider)")
    return client


def claims_options(conf: OidcSettings, issuer: str | None) -> dict[str, Any]:
    """What the ID token must carry: our client id in ``aud`` (authlib alone would accept a
    foreign audience with a matching ``azp``), the expected issuer, an expiry, a nonce."""
    iss: dict[str, Any] = {"essential": True}
    if issuer:
        iss["value"] = issuer
    return {"iss": iss, "aud": {"essential": True, "value": conf.client_id},
            "exp": {"essential": True}, "sub": {"essential": True},
            "nonce": {"essential": True}}


def refused(message: str, status: int = 403) -> Any:
    return render_template("refused.html", message=message), status


@bp.route("/login")
def login() -> Any:
    """Send the browser to the provider (state, nonce and PKCE verifier kept in the session)."""
    client = _client()
    conf = platform().settings.oauth
    session["next"] = safe_next(request.args.get("next"))
    redirect_uri = conf.redirect_uri or url_for("oidc.callback", _external=True)
    try:
        return client.authorize_redirect(redirect_uri)
    except (AuthlibBaseError, RequestException, RuntimeError) as exc:
        logger.error("OIDC provider unreachable or misconfigured: %s", exc)
        return refused("The sign-in service cannot be reached; try again later.", 503)


@bp.route("/callback")
def callback() -> Any:
    """Check state, redeem the code, validate the ID token, map it to an OMERO user."""
    client = _client()
    p = platform()
    conf = p.settings.oauth
    try:
        metadata = client.load_server_metadata()
        token = client.authorize_access_token(
            claims_options=claims_options(conf, metadata.get("issuer") or conf.issuer),
            leeway=LEEWAY)
    except (AuthlibBaseError, JoseError, RequestException) as exc:
        logger.warning("OIDC sign-in refused: %s: %s", type(exc).__name__, exc)
        return refused(f"The sign-in could not be verified ({_reason(exc)}). "
                       "Start again from the sign-in page.")
    claims = token.get("userinfo")
    if not claims:
        return refused("The identity provider sent no ID token.")
    omename = claims.get("omename") or claims.get("preferred_username")
    omename = omename if isinstance(omename, str) else None
    email = mapped_email(claims, conf)
    exp = p.catalog.find_by_identity(omename=omename, email=email)
    if exp is None:
        logger.info("OIDC identity %r / %r matches no OMERO experimenter", omename, email)
        return refused("Your university account is not linked to an OMERO account "
                       f"(user name {omename or '-'}, e-mail {email or '-'}). Ask the "
                       "facility to create your OMERO account first.")
    user = ensure_user(p, exp.omename)
    target = safe_next(session.get("next"))
    sign_in(user, via="oidc")
    session["oidc"] = {"iss": claims.get("iss"), "sub": claims.get("sub")}
    return redirect(target or url_for("pages.runs"))


def mapped_email(claims: dict[str, Any], conf: OidcSettings) -> str | None:
    """The e-mail to map to an experimenter: only when the provider says it is verified
    (``email_verified`` exactly true) and ``OAUTH_EMAIL_MAPPING`` is on."""
    email = claims.get("email")
    if not conf.email_mapping or claims.get("email_verified") is not True:
        return None
    return email if isinstance(email, str) and email.strip() else None


def _reason(exc: Exception) -> str:
    for attr in ("description", "error"):
        text = getattr(exc, attr, None)
        if isinstance(text, str) and text:
            return text.replace("_", " ") if attr == "error" else text
    return type(exc).__name__
