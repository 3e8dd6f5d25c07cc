"""A real browser (Debian's chromium through Playwright) against the app on a real werkzeug
server, a real worker and a real OIDC provider on loopback (authlib's server side): sign in at
the provider → plates → the demo plate → dry run and queue nuclei-count →
the live plate map fills green → results heatmap and a well → CSV download → sign out → the
administrator's queue overview and audit log.

Screenshots of every page go to ``test-output/browser/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platequeue.testing import served as serve
from tests.conftest import ROOT
from tests.web.oidc_provider import OidcProvider
from tests.web.pages_fixtures import Web, web

__all__ = ["web"]

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-output" / "browser"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def served(web: Web, oidc_provider: OidcProvider) -> Iterator[str]:
    """The app, configured for *oidc_provider* and with the development sign-in off, on a
    real HTTP server in a thread; yields its base URL."""
    from web import create_app

    holder: dict[str, Any] = {}
    with serve(lambda environ, start: holder["app"](environ, start)) as url:
        client = oidc_provider.add_client("platequeue-e2e", f"{url}/oidc/callback")
        web.stack.env.update({"APP_ENV": "test", **oidc_provider.env(client)})
        holder["app"] = create_app(platform=web.stack.platform())
        yield url


def _sign_in(page: Any, served: str, provider: OidcProvider, username: str) -> None:
    """Through the provider's own form, as a person would."""
    from playwright.sync_api import expect

    page.goto(served + "/login")
    page.click("text=Sign in with your university account")
    page.wait_for_url(provider.url + "/authorize*")
    page.fill("input[name=username]", username)
    page.click("button[type=submit]")
    page.wait_for_url(served + "/**")
    expect(page.locator("header.top")).to_contain_text(username)


@pytest.mark.slow
def test_browser_submit_watch_results_download(web: Web, served: str,
                                               oidc_provider: OidcProvider) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    truth = web.stack.manifest.plates[0]  # type: ignore[attr-defined]
    web.stack.start_worker(concurrency=2)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          accept_downloads=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            def shot(name: str) -> None:
                page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

            # sign in at the university's OIDC provider (the development form is off)
            page.goto(served + "/login")
            expect(page.locator("input[name=omename]")).to_have_count(0)
            shot("01-login")
            _sign_in(page, served, oidc_provider, "demo")

            # plates, grouped by screen; the search box filters as you type
            page.click("header.top nav >> text=Plates")
            expect(page.locator("h2", has_text="Demo screen")).to_be_visible()
            page.fill("#q", "no such plate")
            expect(page.locator(f'.plate-card[data-plate="{truth.id}"]')).to_be_hidden()
            page.fill("#q", "demo")
            expect(page.locator(f'.plate-card[data-plate="{truth.id}"]')).to_be_visible()
            shot("02-plates")

            # the demo plate's well grid
            page.click(f"text={truth.name}")
            page.wait_for_url(f"**/plates/{truth.id}")
            expect(page.locator(".well.present[data-well]")).to_have_count(96)
            shot("03-plate")

            # submit: dry run first, then queue
            page.click("text=Analyse this plate")
            expect(page.locator(f'input[name=plate][value="{truth.id}"]')).to_be_checked()
            expect(page.locator("#pipeline")).to_have_value("nuclei-count")
            page.click("#dry-run")
            expect(page.locator(".est-wells")).to_have_text("96")
            expect(page.locator(".est-fields")).to_have_text("192")
            shot("04-submit-dry-run")
            page.click("#queue")
            page.wait_for_url("**/runs/*")
            shot("05-run-started")

            # the live plate map fills without a reload
            page.wait_for_function(
                "document.querySelectorAll('#plate-map .well.s-succeeded').length === 96",
                timeout=240_000, polling=500)
            expect(page.locator("#run-status")).to_have_text("succeeded")
            expect(page.locator("#run-count")).to_have_text("96/96 wells ended")
            expect(page.locator("#cancel-form")).to_be_hidden()
            shot("06-run-done")

            # results: heatmap with one cell per well, then one well's drill-down
            page.click("#results-link")
            expect(page.locator("svg.heatmap rect.well")).to_have_count(96)
            expect(page.locator("#outlier-note")).to_contain_text("|z| > 3")
            shot("07-results-heatmap")
            page.click('svg.heatmap rect.well[data-well="B3"]')
            expect(page.locator("#drilldown h2").first).to_have_text("Well B3")
            page.wait_for_function(
                "[...document.querySelectorAll('.preview img')].every(i => i.complete "
                "&& i.naturalWidth > 0)", timeout=60_000)
            shot("08-results-well")

            # the CSV download holds the ground-truth counts
            with page.expect_download() as info:
                page.click("#csv-link")
            text = Path(info.value.path()).read_text()
            rows = list(csv.DictReader(io.StringIO(text)))
            assert len(rows) == 96 * truth.fields
            for row in rows:
                assert float(row["count"]) == truth.count(row["well"], int(row["field"])), row

            # sign out: the session ends here and at the provider
            page.click("header.top button:has-text('Sign out')")
            page.wait_for_url(oidc_provider.url + "/logout")
            assert oidc_provider.logouts == 1
            page.goto(served + "/plates")  # signed out: sent to sign in again
            assert "/login" in page.url, page.url
            shot("09-signed-out")

            # an administrator sees the queue overview and the audit log
            _sign_in(page, served, oidc_provider, "facility")
            page.click("header.top nav >> text=Queue")
            expect(page.locator('#queues tr[data-queue="cpu"]')).to_be_visible()
            expect(page.locator("#flower-link a")).to_have_attribute("href", "/flower/")
            expect(page.locator("#workers tbody tr[data-worker]")).to_have_count(1)
            shot("10-ops-queue")
            page.click("header.top nav >> text=Audit")
            expect(page.locator("#audit tbody tr", has_text="submit")).to_have_count(1)
            shot("11-ops-audit")
            assert not errors, errors
        finally:
            browser.close()
