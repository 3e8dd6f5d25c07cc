"""A real OpenID Connect provider on loopback for the tests, built on authlib's server side.

Authorization-code flow with PKCE and nonce, RS256 ID tokens signed with an RSA key made
at start-up, a JWKS endpoint and a discovery document. Who signs in is chosen either in
the browser (the ``/authorize`` page has a user-name form) or programmatically
(:meth:`OidcProvider.authorize` posts that form; ``auto_user`` approves without a form).
``tamper`` overrides ID-token claims (``aud``, ``exp``, ``nonce``...) and
``foreign_key`` signs with a key the JWKS does not publish, so tests can check refusals.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, jsonify, render_template_string, request
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

SCOPES = ("openid", "email", "profile")

_LOGIN = """<!doctype html><title>Test IdP sign-in</title>
<h1>Test identity provider</h1>{% if error %}<p role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <label>User name <input name="username" autofocus></label>
  <button type="submit">Sign in</button>
</form>"""


@dataclass
class ProviderUser:
    username: str
    claims: dict[str, Any]

    def get_user_id(self) -> str:
        return str(self.claims["sub"])


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: ProviderUser
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def provider(self) -> OidcProvider:
        found: OidcProvider = self.server.provider
        return found

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        self.provider.codes[code] = Code(
            code=code, client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri, scope=request.payload.scope,
            user=request.user, nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"))
        if data.get("nonce"):
            self.provider.nonces.add(data["nonce"])

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = self.provider.codes.get(code)
        return found if found and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.provider.codes.pop(authorization_code.code, None)
        self.provider.redeemed.append(authorization_code.code)

    def authenticate_user(self, authorization_code: Code) -> ProviderUser:
        return authorization_code.user


class _OpenIDCode(OpenIDCode):
    def __init__(self, provider: OidcProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return nonce in self.provider.nonces

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        p = self.provider
        return p.other_key if p.foreign_key else p.key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": str(self.resolve_client_private_key(client).kid)}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.provider.issuer, "aud": [client.get_client_id()]}

    def generate_user_info(self, user: ProviderUser, scope: str) -> UserInfo:
        # Applied last by authlib, so ``tamper`` can override iss/aud/exp/nonce as well.
        return UserInfo({**user.claims, **self.provider.tamper})


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class OidcProvider:
    """The provider; :meth:`start` serves it on 127.0.0.1 at a free port."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "pq-test-1", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "pq-test-1"})
        self.users: dict[str, ProviderUser] = {}
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.nonces: set[str] = set()
        self.redeemed: list[str] = []
        self.tamper: dict[str, Any] = {}
        self.foreign_key = False
        self.auto_user: str | None = None
        self.logouts = 0
        self.url = ""
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = self._make_app()

    # -- set-up -------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        return self.url

    def add_user(self, username: str, *, email: str | None = None,
                 **claims: Any) -> ProviderUser:
        """A user who can sign in; ``preferred_username`` is *username* unless overridden."""
        base = {"sub": f"sub-{username}", "preferred_username": username,
                "email": email or f"{username}@idp.example", "email_verified": True}
        user = ProviderUser(username, {**base, **claims})
        self.users[username] = user
        return user

    def add_client(self, client_id: str, redirect_uri: str,
                   client_secret: str | None = None) -> Client:
        client = Client(client_id, client_secret or secrets.token_urlsafe(24), [redirect_uri])
        self.clients[client_id] = client
        return client

    def env(self, client: Client, *, discovery: bool = True) -> dict[str, str]:
        """``OAUTH_*`` settings for a platequeue instance using *client*."""
        env = {"OAUTH_CLIENT_ID": client.client_id, "OAUTH_CLIENT_SECRET": client.client_secret,
               "OAUTH_REDIRECT_URI": client.redirect_uris[0],
               "OAUTH_LOGOUT_URL": f"{self.url}/logout"}
        if discovery:
            env["OAUTH_DISCOVERY_URL"] = f"{self.url}/.well-known/openid-configuration"
        else:
            env.update({"OAUTH_AUTH_URL": f"{self.url}/authorize",
                        "OAUTH_TOKEN_URL": f"{self.url}/token",
                        "OAUTH_JWKS_URL": f"{self.url}/jwks", "OAUTH_ISSUER": self.issuer})
        return env

    # -- driving it from a test -----------------------------------------------------
    def authorize(self, authorize_url: str, username: str) -> str:
        """Sign *username* in at the provider's form; returns the redirect back to the
        client (``…/callback?code=…&state=…``), or raises if the provider refused."""
        res = requests.post(authorize_url, data={"username": username}, allow_redirects=False,
                            timeout=10)
        if res.status_code != 302:
            raise AssertionError(f"provider refused: {res.status_code} {res.text[:300]}")
        return str(res.headers["Location"])

    # -- the server -----------------------------------------------------------------
    def _make_app(self) -> Flask:
        app = Flask(__name__)
        server = AuthorizationServer(app, query_client=self.clients.get,
                                     save_token=lambda token, req: None)
        server.provider = self
        server.register_grant(_CodeGrant, [CodeChallenge(required=False), _OpenIDCode(self)])

        @app.route("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify({
                "issuer": self.issuer, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                "end_session_endpoint": f"{self.url}/logout", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "scopes_supported": list(SCOPES),
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
                "code_challenge_methods_supported": ["S256"]})

        @app.route("/jwks")
        def jwks() -> Any:
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            name = request.form.get("username") if request.method == "POST" else self.auto_user
            action = f"{self.url}/authorize?{urlencode(list(request.args.items(multi=True)))}"
            if name is None:
                try:  # a bad request fails before the form is shown
                    server.get_consent_grant(end_user=None)
                except OAuth2Error as exc:
                    return jsonify(error=exc.error, error_description=exc.description), 400
                return render_template_string(_LOGIN, action=action, error=None)
            user = self.users.get(name.strip())
            if user is None:
                return render_template_string(_LOGIN, action=action,
                                              error=f"unknown user {name!r}"), 401
            grant = server.get_consent_grant(end_user=user)
            return server.create_authorization_response(grant=grant, grant_user=user)

        @app.route("/token", methods=["POST"])
        def token() -> Any:
            return server.create_token_response()

        @app.route("/logout")
        def logout() -> Any:
            self.logouts += 1
            return "<!doctype html><title>Signed out</title><p>Signed out of the test IdP.</p>"

        return app

    def start(self) -> OidcProvider:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True,
                                   request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="oidc-provider")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
