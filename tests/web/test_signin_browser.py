"""OIDC sign-in in a real browser (Debian's chromium through Playwright), on both stacks
(``platequeue up``'s SQLite + embedded Redis, and PostgreSQL + Redis): the app and the
provider each on a real loopback HTTP server; the user name is typed into the provider's
form; an API token is created, then revoked after a confirmation; sign-out ends at the
provider's logout page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from platequeue.testing import served
from tests.conftest import Stack
from tests.web.browser import DESKTOP, chromium, look
from tests.web.oidc_provider import OidcProvider
from tests.web.stacks import any_stack

__all__ = ["any_stack"]


@pytest.fixture
def live_app(any_stack: Stack, oidc_provider: OidcProvider) -> Iterator[str]:
    """platequeue on a real HTTP server, configured for *oidc_provider*; yields its URL."""
    from web import create_app

    holder: dict[str, Any] = {}
    with served(lambda env, start: holder["app"](env, start)) as url:
        client = oidc_provider.add_client("platequeue-browser", f"{url}/oidc/callback")
        any_stack.env.update(oidc_provider.env(client))
        holder["app"] = create_app(platform=any_stack.platform())
        yield url


def test_oidc_sign_in_and_out_in_a_browser(any_stack: Stack, live_app: str,
                                           oidc_provider: OidcProvider) -> None:
    from playwright.sync_api import expect

    kind = str(any_stack.kind)  # type: ignore[attr-defined]
    with chromium() as browser:
        page = browser.new_page(viewport=DESKTOP)
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
        look(page, "tokens", stack=kind)

        # revoking asks first; "Keep it" keeps it
        page.click("#tokens button:has-text('Revoke')")
        expect(page.locator("#confirm-dialog")).to_contain_text("Revoke the token “laptop”?")
        page.click("#confirm-no")
        expect(page.locator("#tokens td.state")).to_have_text("active")
        page.click("#tokens button:has-text('Revoke')")
        page.click("#confirm-yes")
        expect(page.locator("#tokens td.state")).to_have_text("revoked")

        page.click("header.top button:has-text('Sign out')")
        page.wait_for_url(oidc_provider.url + "/logout")
        assert oidc_provider.logouts == 1
        page.goto(live_app + "/account/tokens")
        assert "/login" in page.url, page.url
