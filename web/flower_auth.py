"""``GET /auth/flower``: nginx ``auth_request`` gate in front of Flower (``/flower/``).

204 for an operator or admin (browser session or API token), 401 with no or bad
credentials, 403 for anyone else. Flower's own ``FLOWER_BASIC_AUTH`` is the second lock.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort

from web.auth import require

bp = Blueprint("flower_auth", __name__)


@bp.get("/auth/flower")
def flower_gate() -> Any:
    ident = require()
    if not ident.sees_everything:
        abort(403, "Flower is for operators and admins")
    return "", 204, {"Cache-Control": "no-store"}
