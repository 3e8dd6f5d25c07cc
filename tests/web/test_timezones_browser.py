"""Times in the reader's own time zone, in a real browser set to zones other than UTC, on both
stacks (SQLite keeps naive UTC datetimes, PostgreSQL aware ones): the page script's
``localTime`` agrees with Python's zone database across DST changes, at local midnight and on
a half-hour offset, and the runs list shows a run's creation time that way, the UTC original
kept in the tooltip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from platequeue.testing import served
from tests.web.browser import chromium
from tests.web.pages_fixtures import Web, submit
from tests.web.stacks import any_stack, any_web

__all__ = ["any_stack", "any_web"]

INSTANTS = [
    "2026-03-08T06:59:00Z",  # New York: 01:59 EST, a minute before spring forward
    "2026-03-08T07:00:00Z",  # 03:00 EDT
    "2026-11-01T05:30:00Z",  # 01:30 EDT, the first of the repeated hour
    "2026-11-01T06:30:00Z",  # 01:30 EST, the second
    "2026-12-01T05:00:00Z",  # 00:00 EST: midnight is 00, never 24
    "2026-12-01T18:45:00Z",  # Kolkata: 00:15 the next day (UTC+05:30)
]


@pytest.fixture
def site(any_web: Web) -> Iterator[str]:
    with served(any_web.app) as url:
        yield url


def _expected(iso: str, zone: str) -> str:
    local = datetime.fromisoformat(iso).astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_times_are_shown_in_the_readers_zone(any_web: Web, site: str, zone: str) -> None:
    run_id = submit(any_web.platform, "demo", any_web.demo_plate)
    with chromium() as browser:
        context = browser.new_context(timezone_id=zone, locale="en-US")
        page = context.new_page()
        page.goto(site + "/login")
        page.fill("input[name=omename]", "demo")
        page.click("#sign-in-dev button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)

        shown = page.evaluate("(xs) => xs.map((x) => window.platequeue.localTime(x))",
                              INSTANTS)
        for iso, text in zip(INSTANTS, shown, strict=True):
            when, _, name = text.partition(" ")[2].partition(" ")
            assert text.startswith(_expected(iso, zone)), (iso, text)
            assert name and name != "UTC", text  # the zone is named
            assert not when.startswith("24"), text
        if zone == "America/New_York":
            assert [s.rsplit(" ", 1)[1] for s in shown[:5]] == ["EST", "EDT", "EDT", "EST",
                                                                 "EST"]

        page.goto(site + "/runs")
        cell = page.locator(f'tr[data-run="{run_id}"] time')
        iso = cell.get_attribute("datetime")
        assert iso is not None and iso.endswith("Z"), iso  # stored UTC, said so (SQLite too)
        text = cell.inner_text()
        assert text.startswith(_expected(iso, zone)), (iso, text)
        title = cell.get_attribute("title") or ""
        assert title.endswith(" UTC") and title[:16] == iso[:16].replace("T", " "), title
        context.close()
