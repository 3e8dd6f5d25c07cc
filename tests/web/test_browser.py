"""The whole journey in a real browser (Debian's chromium through Playwright), once on each
stack — ``platequeue up``'s defaults (SQLite audit store, embedded Redis) and PostgreSQL +
Redis — with a real worker and a real OIDC provider on loopback (authlib's server side):

sign in at the provider → plates → the demo plate → dry run and queue nuclei-count (two
wells' pixels corrupted) → the run page and its partial results before any worker runs →
a worker starts and the live plate map fills without a reload → the run ends partial →
Rerun failed wells, declined once and then confirmed, queues exactly the two wells → the
results heatmap and a well → CSV download → a second run cancelled after a confirmation →
the run list → an HTML 404 → sign out → the administrator's queue overview and audit log.

Screenshots of every page at 1280 and 390 px go to ``test-output/screenshots/<stack>/``
(git-ignored) for a person to look at; the pages of the run/results/runs/error family are
checked with axe-core and for sideways overflow at both widths.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platequeue.testing import served as serve
from tests.test_e2e import _corrupt_first_plane
from tests.web.browser import DESKTOP, chromium, look
from tests.web.oidc_provider import OidcProvider
from tests.web.pages_fixtures import Web
from tests.web.stacks import any_stack, any_web

__all__ = ["any_stack", "any_web"]


@pytest.fixture
def served(any_web: Web, oidc_provider: OidcProvider) -> Iterator[str]:
    """The app, configured for *oidc_provider* and with the development sign-in off, on a
    real HTTP server in a thread; yields its base URL."""
    from web import create_app

    holder: dict[str, Any] = {}
    with serve(lambda environ, start: holder["app"](environ, start)) as url:
        client = oidc_provider.add_client("platequeue-e2e", f"{url}/oidc/callback")
        any_web.stack.env.update({"APP_ENV": "test", **oidc_provider.env(client)})
        holder["app"] = create_app(platform=any_web.stack.platform())
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
@pytest.mark.timeout(1500)
def test_browser_journey(any_web: Web, served: str, oidc_provider: OidcProvider) -> None:
    from playwright.sync_api import expect

    stack = any_web.stack
    kind = str(stack.kind)  # type: ignore[attr-defined]
    truth = stack.manifest.plates[0]  # type: ignore[attr-defined]
    platform = stack.platform()
    corrupted = [_corrupt_first_plane(stack, platform.catalog.pixels(truth.images[w][1]).id)
                 for w in ("B3", "C7")]

    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        statuses: list[tuple[str, int]] = []
        page.on("response", lambda r: statuses.append((r.url, r.status)))

        def shot(name: str, mine: bool = True) -> None:
            look(page, name, stack=kind, a11y=mine, layout=mine)

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
        shot("02-plates", mine=False)

        # the demo plate's well grid
        page.click(f"text={truth.name}")
        page.wait_for_url(f"**/plates/{truth.id}")
        expect(page.locator(".well.present[data-well]")).to_have_count(96)
        shot("03-plate", mine=False)

        # submit: dry run first, then queue (no worker yet: the run waits)
        page.click("text=Analyse this plate")
        expect(page.locator(f'input[name=plate][value="{truth.id}"]')).to_be_checked()
        expect(page.locator("#pipeline")).to_have_value("nuclei-count")
        page.click("#dry-run")
        expect(page.locator(".est-wells")).to_have_text("96")
        expect(page.locator(".est-fields")).to_have_text("192")
        shot("04-submit-dry-run", mine=False)
        page.click("#queue")
        page.wait_for_url("**/runs/*")
        run_url = page.url
        run_id = int(run_url.rstrip("/").rsplit("/", 1)[1])
        expect(page.locator("#run-status")).to_have_text("queued")
        expect(page.locator("#cancel-form")).to_be_visible()
        shot("05-run-queued")

        # results before any well ran: they say they are partial
        page.click("#results-link")
        expect(page.locator("#partial-note")).to_contain_text("Partial results")
        shot("06-results-partial")
        page.goto(run_url)

        # a worker starts: the live map changes in place (no reload), with an ETA, counts,
        # and Cancel offered while the run goes on
        page.evaluate("window.__noReload = true")
        stack.start_worker(concurrency=2)
        page.wait_for_function(
            "document.querySelectorAll('#plate-map .well.s-succeeded').length >= 4",
            timeout=300_000, polling=250)
        assert page.evaluate("window.__noReload === true")
        mid = page.evaluate("""() => ({
            ended: +document.getElementById('run-count').textContent.split('/')[0],
            status: document.getElementById('run-status').textContent,
            eta: document.getElementById('eta').textContent,
            cancel: !document.getElementById('cancel-form').hidden})""")
        if mid["status"] == "running" and mid["ended"] < 90:
            assert mid["cancel"], mid
            assert mid["eta"] != "—", mid  # a number once wells have ended
            shot("07-run-live")

        # the run ends partial: B3 and C7 failed; Rerun is offered, Cancel is not
        page.wait_for_function("document.getElementById('run-status').textContent === 'partial'",
                               timeout=400_000, polling=500)
        assert page.evaluate("window.__noReload === true")
        expect(page.locator("#plate-map .well.s-succeeded")).to_have_count(94)
        expect(page.locator("#plate-map .well.s-failed")).to_have_count(2)
        expect(page.locator("#failed-wells tbody tr[data-well]")).to_have_count(2)
        expect(page.locator("#rerun-form")).to_be_visible()
        expect(page.locator("#cancel-form")).to_be_hidden()
        expect(page.locator("#count-failed")).to_have_text("2")
        shot("08-run-partial")

        # rerun: the confirmation names the wells; "Not now" changes nothing
        for path, original in corrupted:
            Path(path).write_bytes(original)
        page.click("#rerun")
        expect(page.locator("#confirm-dialog")).to_contain_text("Queue the 2 failed wells")
        page.click("#confirm-no")
        page.wait_for_timeout(500)
        expect(page.locator("#run-status")).to_have_text("partial")
        page.click("#rerun")
        page.click("#confirm-yes")
        page.wait_for_load_state()
        expect(page.locator(".flash")).to_have_text(f"Queued 2 failed wells of run {run_id} again.")
        expect(page.locator("h1")).to_contain_text(f"Run {run_id}")
        page.wait_for_function(
            "document.querySelectorAll('#plate-map .well.s-succeeded').length === 96",
            timeout=300_000, polling=500)
        expect(page.locator("#run-status")).to_have_text("succeeded")
        expect(page.locator("#run-count")).to_have_text("96/96 wells ended")
        expect(page.locator("#cancel-form")).to_be_hidden()
        expect(page.locator("#rerun-form")).to_be_hidden()
        shot("09-run-done")

        # results: heatmap with one cell per well, then one well's drill-down
        page.click("#results-link")
        expect(page.locator("svg.heatmap rect.well")).to_have_count(96)
        expect(page.locator("#outlier-note")).to_contain_text("|z| > 3")
        expect(page.locator("#partial-note")).to_have_count(0)
        expect(page.locator("svg.heatmap text.tick-label").first).to_be_visible()
        shot("10-results-heatmap")
        page.click('svg.heatmap rect.well[data-well="B3"]')
        expect(page.locator("#drilldown h2").first).to_have_text("Well B3")
        page.wait_for_function(
            "[...document.querySelectorAll('.preview img')].every(i => i.complete "
            "&& i.naturalWidth > 0)", timeout=60_000)
        shot("11-results-well")

        # the CSV download holds the ground-truth counts
        with page.expect_download() as info:
            page.click("#csv-link")
        rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
        assert len(rows) == 96 * truth.fields
        for row in rows:
            assert float(row["count"]) == truth.count(row["well"], int(row["field"])), row

        # a second run, cancelled: the dialog first, and "Keep it running" keeps it
        stack.kill(stack.procs[-1])  # no worker: the run stays cancellable
        page.goto(served + f"/plates/{truth.id}")
        page.click("text=Analyse this plate")
        page.click("#queue")
        page.wait_for_url("**/runs/*")
        second = int(page.url.rstrip("/").rsplit("/", 1)[1])
        assert second != run_id
        page.click("#cancel")
        expect(page.locator("#confirm-dialog")).to_contain_text(f"Cancel run {second}?")
        shot("12-cancel-confirm")
        page.keyboard.press("Escape")  # the dialog's way out, like "Keep it running"
        expect(page.locator("#confirm-dialog")).to_be_hidden()
        expect(page.locator("#run-status")).to_have_text("queued")
        page.click("#cancel")
        page.click("#confirm-yes")
        page.wait_for_load_state()
        expect(page.locator(".flash")).to_have_text(f"Run {second} cancelled.")
        expect(page.locator("#run-status")).to_have_text("cancelled")
        expect(page.locator("#plate-map .well.s-cancelled")).to_have_count(96)
        shot("13-run-cancelled")

        # the run list: zone-named times and durations
        page.click("header.top nav >> text=Runs")
        expect(page.locator(f'tr[data-run="{run_id}"] .status')).to_have_text("succeeded")
        expect(page.locator(f'tr[data-run="{second}"] .status')).to_have_text("cancelled")
        assert page.locator(f'tr[data-run="{run_id}"] .duration').inner_text() != "—"
        shot("14-runs")

        # an unknown page is an HTML page with the navigation, not JSON
        res = page.goto(served + f"/runs/{second + 1000}")
        assert res is not None and res.status == 404
        expect(page.locator("h1")).to_contain_text("Not found")
        expect(page.locator("header.top nav")).to_be_visible()
        shot("15-not-found")

        # sign out: the session ends here and at the provider
        page.click("header.top button:has-text('Sign out')")
        page.wait_for_url(oidc_provider.url + "/logout")
        assert oidc_provider.logouts == 1
        page.goto(served + "/plates")  # signed out: sent to sign in again
        assert "/login" in page.url, page.url

        # an administrator sees the queue overview and the audit log
        _sign_in(page, served, oidc_provider, "facility")
        page.click("header.top nav >> text=Queue")
        expect(page.locator('#queues tr[data-queue="cpu"]')).to_be_visible()
        # no Flower listens and no proxy is in front: no dead link (tests/web/test_browse_ops)
        expect(page.locator("#flower-link")).to_be_hidden()
        shot("16-ops-queue", mine=False)
        page.click("header.top nav >> text=Audit")
        expect(page.locator("#audit tbody tr", has_text="submit")).to_have_count(2)
        expect(page.locator("#audit tbody tr", has_text="rerun")).to_have_count(1)
        expect(page.locator("#audit tbody tr", has_text="cancel")).to_have_count(1)
        shot("17-ops-audit", mine=False)

        # every request the pages made was answered without a server error
        server_errors = [(u, s) for u, s in statuses if s >= 500]
        assert not server_errors, server_errors
        progress_polls = [s for u, s in statuses if u.endswith("/progress.json")]
        assert progress_polls and set(progress_polls) == {200}
        assert not errors, errors
