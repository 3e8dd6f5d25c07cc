"""A real browser (Debian's chromium through Playwright) on the image view, the submit form
by keyboard alone, the schedules page and the live queue overview, against the app on a real
werkzeug server, on both stacks: ``platequeue up``'s defaults (SQLite, embedded Redis) and
PostgreSQL + Redis. Each page is checked with axe-core (no
serious or critical violation) and photographed at 1280 and 390 px wide into
``test-output/screenshots/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import numpy as np
import pytest
from sqlalchemy import select

from platequeue.store import Run, session_scope
from platequeue.testing import served as serve
from tests.web.a11y import assert_accessible
from tests.web.browser import ARGS, CHROMIUM, SHOTS
from tests.web.pages_fixtures import Web, finish_run, set_role, submit
from tests.web.pngs import decode_rgb
from tests.web.stacks import any_stack, any_web

__all__ = ["any_stack", "any_web"]

# how far the page's content (not the shared header; not what scrolls inside its own box,
# such as a wide plate grid) reaches beyond the window
OVERFLOW_JS = """Math.max(0, ...[...document.querySelectorAll('main *')]
  .filter(e => !e.parentElement.closest('.scroll-x, .viewport'))
  .map(e => e.getBoundingClientRect().right)) - window.innerWidth"""
YELLOW = np.array([255, 214, 0], dtype=np.uint8)


@pytest.fixture
def site(any_web: Web) -> Iterator[str]:
    with serve(any_web.app) as url:
        yield url


class Browser:
    def __init__(self, pw: Any, url: str) -> None:
        self.url = url
        self.browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        self.errors: list[str] = []

    def page(self, omename: str, width: int = 1280) -> Any:
        context = self.browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.goto(self.url + "/login")
        page.fill("input[name=omename]", omename)
        page.click("#sign-in-dev button[type=submit]")
        page.wait_for_url(lambda u: u.startswith(self.url) and "/login" not in u)
        page.goto(self.url + "/plates")
        return page


def _check(page: Any, name: str) -> None:
    """axe-core finds nothing serious; screenshots at 1280 and 390 px wide."""
    assert_accessible(page, name)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        overflow = page.evaluate(OVERFLOW_JS)
        assert overflow <= 1, f"{name}: the page content overflows by {overflow}px at {width}px"
    page.set_viewport_size({"width": 1280, "height": 900})


def _rendered(page: Any, key: str = "loaded") -> np.ndarray:
    url = page.evaluate(f"document.getElementById('viewport').dataset.{key}")
    res = page.request.get(urljoin(page.url, url))
    assert res.ok, url
    return decode_rgb(res.body())


def _next_render(page: Any, before: str, key: str = "loaded") -> str:
    page.wait_for_function(
        f"document.getElementById('viewport').dataset.{key} && "
        f"document.getElementById('viewport').dataset.{key} !== {before!r}", timeout=60_000)
    return str(page.evaluate(f"document.getElementById('viewport').dataset.{key}"))


@pytest.mark.slow
def test_image_view_submit_schedules_queue_in_a_browser(any_web: Web, site: str) -> None:
    web = any_web
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    plate = web.demo_plate
    run_id = submit(web.platform, "demo", plate)
    finish_run(web.platform, run_id)
    with sync_playwright() as pw:
        b = Browser(pw, site)
        try:
            page = b.page("demo")
            _check(page, "plates")
            page.goto(f"{site}/plates/{plate}")
            _check(page, "plate")

            # -- the image view: channels, contrast, outlines, fields, full resolution
            page.click('a.well[data-well="B3"]')
            page.wait_for_url(f"**/plates/{plate}/wells/B3/image*")
            first = _next_render(page, "")
            both = _rendered(page)
            view = page.locator("#viewport")
            shot_both = view.screenshot()
            page.uncheck("#ch-on-1")  # the second channel off
            url = _next_render(page, first)
            one = _rendered(page)
            shown = parse_qs(urlsplit(url).query)["c"]
            assert [c.split("|")[0] for c in shown] == ["0"]
            assert not np.array_equal(one, both) and int(one.sum()) < int(both.sum())
            assert view.screenshot() != shot_both
            # contrast: a narrower window than the automatic one makes it brighter
            low = float(page.input_value("#ch-lo-0"))
            high = float(page.input_value("#ch-hi-0"))
            page.fill("#ch-hi-0", f"{low + (high - low) / 4:.6g}")
            page.locator("#ch-hi-0").dispatch_event("change")
            url = _next_render(page, url)
            bright = _rendered(page)
            assert bright.mean() > one.mean()
            expect(page.locator('button[data-auto="0"]')).to_have_attribute("aria-pressed",
                                                                             "false")
            page.click('button[data-auto="0"]')
            url = _next_render(page, url)
            assert np.array_equal(_rendered(page), one)
            page.check("#outlines")
            url = _next_render(page, url)
            outlined = _rendered(page)
            assert (outlined == YELLOW).all(axis=2).sum() > 20
            assert not (one == YELLOW).all(axis=2).any()
            page.uncheck("#outlines")
            url = _next_render(page, url)
            assert np.array_equal(_rendered(page), one)
            # zoom: 1:1 shows the field's own pixels (this 256 px field is rendered whole)
            page.click('button[data-zoom="full"]')
            expect(page.locator("#zoom-level")).to_have_text("100 %")
            assert page.evaluate("document.getElementById('base-img').naturalWidth") == 256
            page.focus("#viewport")
            page.keyboard.press("+")
            expect(page.locator("#zoom-level")).to_have_text("150 %")
            expect(page.locator("#scale-bar span")).to_contain_text("µm")
            _check(page, "image")
            page.click('.field-switch a[data-field="1"]')
            page.wait_for_url("**field=1*")
            expect(page.locator("h1")).to_have_text("Well B3, field 2 of 2")
            _next_render(page, "")
            assert not np.array_equal(_rendered(page), both)  # another field, same settings

            # -- the submit form, keyboard only: tick three wells, dry run, queue
            page.goto(f"{site}/submit?plate={plate}")
            page.locator("body").focus()

            def tab_to(selector: str, limit: int = 300) -> None:
                for _ in range(limit):
                    page.keyboard.press("Tab")
                    if page.evaluate(f"document.activeElement.matches({selector!r})"):
                        return
                raise AssertionError(f"Tab never reached {selector}")

            tab_to("input[name=well]")
            page.keyboard.press("Space")  # A1
            page.keyboard.press("ArrowRight")
            page.keyboard.press("Enter")  # A2
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Space")  # B2
            expect(page.locator("#well-summary")).to_have_text("3 wells chosen")
            tab_to("#f-smooth-sigma")
            page.keyboard.press("End")
            page.keyboard.type("7")  # 1.5 becomes 1.57: in bounds
            tab_to("#dry-run")
            page.keyboard.press("Enter")
            page.wait_for_load_state()
            expect(page.locator(".est-wells")).to_have_text("3")
            expect(page.locator("#well-summary")).to_have_text("3 wells chosen")
            _check(page, "submit")
            page.locator("body").focus()
            tab_to("#queue")
            page.keyboard.press("Enter")
            page.wait_for_url("**/runs/*")
            queued = int(page.url.rsplit("/", 1)[1])
            with session_scope(web.platform.audit) as s:
                run = s.scalar(select(Run).where(Run.id == queued))
                assert run is not None and run.wells_total == 3
                assert run.params["smooth.sigma"] == 1.57

            # -- schedules: an error keeps what was typed
            page.goto(f"{site}/plates")
            page.click("header.top nav >> text=Schedules")
            page.fill("#s-name", "weekly check")
            page.select_option("#s-target", f"plate:{plate}")
            page.fill("#s-cron", "0 25 * * 1")
            page.fill("#s-zone", "Europe/Berlin")
            page.click("#new-schedule button[type=submit]")
            expect(page.locator("#schedule-error")).to_contain_text("cron")
            expect(page.locator("#s-name")).to_have_value("weekly check")
            expect(page.locator("#s-target")).to_have_value(f"plate:{plate}")
            expect(page.locator("#s-zone")).to_have_value("Europe/Berlin")
            page.fill("#s-cron", "0 6 * * 1")
            page.click("#new-schedule button[type=submit]")
            expect(page.locator("#schedules tbody tr[data-schedule]")).to_have_count(1)
            expect(page.locator("td.next-fire")).to_contain_text("06:00 CE")
            _check(page, "schedules")

            # -- the queue overview refreshes by itself; the audit log filters
            set_role(web.platform, "lead", "operator")
            admin = b.page("facility")
            admin.click("header.top nav >> text=Queue")
            expect(admin.locator(f'#active-runs tr[data-run="{queued}"]')).to_have_count(1)
            later = submit(web.platform, "alice", plate, pipeline="noop")
            expect(admin.locator(f'#active-runs tr[data-run="{later}"] a')).to_have_attribute(
                "href", f"/runs/{later}", timeout=20_000)
            assert int(admin.evaluate("document.getElementById('live-note').dataset.updates"
                                      " || 0")) >= 1
            _check(admin, "queue")
            admin.click("header.top nav >> text=Audit")
            admin.fill("#f-user", "alice")
            admin.click("#audit-filter button[type=submit]")
            expect(admin.locator("#audit tbody tr[data-event]")).to_have_count(1)
            expect(admin.locator("#audit tbody tr[data-event] td").nth(4)).to_have_text(
                str(later))
            _check(admin, "audit")
            assert not b.errors, b.errors
        finally:
            b.browser.close()
