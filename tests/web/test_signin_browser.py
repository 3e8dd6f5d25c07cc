"""OIDC sign-in in a real browser (Debian's chromium through Playwright): the app and the
provider each on a real loopback HTTP server; the user name is typed into the provider's
form; sign-out ends at the provider's logout page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platequeue.testing import served
from tests.web.conftest import SmallStack
from tests.web.oidc_provider import OidcProvider

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def live_app(small_stack: SmallStack, oidc_provider: OidcProvider) -> Iterator[str]:
    """platequeue on a real HTTP server, configured for *oidc_provider*; yields its URL."""
    from web import create_app

    holder: dict[str, Any] = {}
    with served(lambda env, start: holder["app"](env, start)) as url:
        client = oidc_provider.add_client("platequeue-browser", f"{url}/oidc/callback")
        holder["app"] = create_app(platform=small_stack.platform(**oidc_provider.env(client)))
        yield url


def test_oidc_sign_in_and_out_in_a_browser(live_app: str, oidc_provider: OidcProvider) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(live_app + "/account/tokens")  # needs a sign-in: the sign-in page
            page.click("text=Sign in with your university account")
            page.wait_for_url(oidc_provider.url + "/authorize*")
            page.fill("input[name=username]", "stranger")
            page.click("button[type=submit]")
            expect(page.locator("#refusal")).to_contain_text("not linked to an OMERO account")

            page.goto(live_app + "/login?next=/account/tokens")
            page.click("text=Sign in with your university account")
            page.fill("input[name=username]", "demo")
            page.click("button[type=submit]")
            page.wait_for_url(live_app + "/account/tokens")
            expect(page.locator("header.top")).to_contain_text("demo")
            page.fill("input[name=name]", "laptop")
            page.select_option("select[name=scope]", "read")
            page.click("text=Create token")
            expect(page.locator("#token-value")).to_contain_text("pq_")
            expect(page.locator("#tokens tbody tr")).to_have_count(1)

            page.click("header.top button:has-text('Sign out')")
            page.wait_for_url(oidc_provider.url + "/logout")
            assert oidc_provider.logouts == 1
            page.goto(live_app + "/account/tokens")
            assert "/login" in page.url, page.url
        finally:
            browser.close()
