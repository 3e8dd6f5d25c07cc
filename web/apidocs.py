"""``/api/docs``: the OpenAPI document as a readable page (Redoc, served from our static files).

The viewer is vendored unchanged from the npm registry (``scripts/vendor-redoc.sh``) under
``web/static/vendor/redoc/`` with its licences; the page loads nothing from elsewhere. It is
public, like ``/api/openapi.json`` that it renders.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

bp = Blueprint("apidocs", __name__)

REDOC = "vendor/redoc/redoc.standalone.js"

# The browser may load nothing from elsewhere: Redoc's footer links an image on its CDN,
# which this policy blocks (the link text stays). Redoc styles inline and runs its search
# index in a worker built from a blob.
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'")


@bp.get("/api/docs")
def docs() -> Response:
    html = render_template("api_docs.html", redoc=REDOC)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = POLICY
    return response
