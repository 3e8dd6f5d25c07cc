"""``/api/docs`` in a real browser (Debian's chromium through Playwright): Redoc renders the
API's title and operations, and every request the page makes goes to our own server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from platequeue.platform import Platform, set_platform
from platequeue.settings import load_settings
from platequeue.testing import served

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    from web import create_app

    platform = Platform(load_settings({"APP_ENV": "test", "PLATEQUEUE_HOME": str(tmp_path)}))
    try:
        with served(create_app({"TESTING": True}, platform=platform)) as url:
            yield url
    finally:
        set_platform(None)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_docs_page_renders_the_api(base_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    requested: list[str] = []
    answered: list[str] = []
    console: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda req: requested.append(req.url))
            page.on("response", lambda res: answered.append(res.url))
            page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base_url}/api/docs")
            expect(page.locator("h1", has_text="platequeue API")).to_be_visible(timeout=30_000)
            operation = page.get_by_text("Queue a pipeline over every well of a plate")
            expect(operation.first).to_be_attached()
            assert errors == []
        finally:
            browser.close()
    assert f"{base_url}/api/openapi.json" in answered
    # Redoc's footer asks for its logo on a CDN; the page's policy stops the browser.
    outside = [u for u in answered if not u.startswith((base_url, "data:", "blob:"))]
    assert outside == [], outside
    tried = {u for u in requested if not u.startswith((base_url, "data:", "blob:"))}
    assert tried <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, tried
    for url in tried:
        assert any(url in c and "Content Security Policy" in c and "blocked" in c
                   for c in console), console
