"""``/api/docs``: the OpenAPI page and the vendored viewer load from our own server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from platequeue.platform import Platform, set_platform
from platequeue.settings import load_settings

VENDOR = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor" / "redoc"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[FlaskClient]:
    from web import create_app

    platform = Platform(load_settings({"APP_ENV": "test", "PLATEQUEUE_HOME": str(tmp_path)}))
    try:
        app = create_app({"TESTING": True}, platform=platform)
        yield app.test_client()
    finally:
        set_platform(None)


def test_page_and_viewer_load_without_credentials(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert re.search(r'<redoc spec-url="/api/openapi\.json"', html)
    [src] = re.findall(r'<script src="([^"]+)"', html)
    assert src == "/static/vendor/redoc/redoc.standalone.js"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the page loads nothing remote"
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy

    script = client.get(src)
    assert script.status_code == 200 and "javascript" in script.mimetype
    assert script.data == (VENDOR / "redoc.standalone.js").read_bytes()
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200 and spec.get_json()["info"]["title"] == "platequeue API"


def test_viewer_licences_are_kept_beside_it() -> None:
    assert "MIT License" in (VENDOR / "LICENSE").read_text()
    assert "@license" in (VENDOR / "redoc.standalone.js.LICENSE.txt").read_text()
    version = (VENDOR / "VERSION").read_text()
    assert version.startswith("redoc ") and "integrity: sha512-" in version
    head = (VENDOR / "redoc.standalone.js").read_text()[:200]
    assert "redoc.standalone.js.LICENSE.txt" in head
