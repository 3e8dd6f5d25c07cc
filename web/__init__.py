"""Flask app factory: ``create_app(test_config=None)``, one blueprint per module."""

from __future__ import annotations

from typing import Any

from flask import Flask

from platequeue.platform import Platform, get_platform, set_platform
from web.redirects import install_log_redaction
from web.strict import Int64Converter, StrictJSONProvider, refuse_nul


def create_app(test_config: dict[str, Any] | None = None,
               platform: Platform | None = None) -> Flask:
    if platform is not None:
        set_platform(platform)
    platform = get_platform()
    app = Flask(__name__, template_folder="templates")
    app.json = StrictJSONProvider(app)  # deep nesting is a 400, not a RecursionError
    app.url_map.converters["int"] = Int64Converter  # before any route: ids fit a bigint
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=platform.settings.max_content_length,
        SECRET_KEY=platform.settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=platform.settings.app_env == "production",
        DEV_LOGIN=platform.settings.app_env == "development",
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["platform"] = platform
    install_log_redaction()  # OMERO session keys never reach a log line
    app.before_request(refuse_nul)  # before sign-in: PostgreSQL text cannot hold NUL

    from web import account, oidc, omero_login, sessions  # sign-in, sessions, tokens

    sessions.init_app(app, platform)
    oidc.init_app(app, platform)
    app.register_blueprint(omero_login.bp)
    app.register_blueprint(account.bp)

    from web import api, auth, flower_auth, health, pages

    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(flower_auth.bp)

    from web import pages_ops, pages_results, pages_runs, pages_submit  # the UI pages

    for page_bp in (pages_submit.bp, pages_runs.bp, pages_results.bp, pages_ops.bp):
        app.register_blueprint(page_bp)

    from web import pages_image  # the image view of a well, plate thumbnails

    app.register_blueprint(pages_image.bp)

    from web import metrics, schedules  # operations: /metrics, /schedules, /api/schedules

    app.register_blueprint(metrics.bp)
    app.register_blueprint(schedules.bp)

    from web import apidocs  # /api/docs: the OpenAPI document, readable

    app.register_blueprint(apidocs.bp)

    pages.install_app_error_pages(app)  # HTML for browsers, JSON under /api/
    return app
