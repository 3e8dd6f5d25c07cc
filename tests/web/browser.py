"""Shared Playwright helpers for the browser tests: Debian's chromium, screenshots of a page
at desktop (1280 px) and phone (390 px) widths under ``test-output/screenshots/<stack>/``
(git-ignored; look at them), and the check that nothing overflows a narrow screen.

    with chromium() as browser:
        page = browser.new_page(viewport=DESKTOP)
        ...
        look(page, "run-done", stack="postgres")   # both widths; a11y and overflow checked
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.web.a11y import assert_accessible

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "test-output" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian chromium (the test is skipped where it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def shots_dir(stack: str) -> Path:
    d = SHOTS / stack
    d.mkdir(parents=True, exist_ok=True)
    return d


def overflow(page: Any) -> list[str]:
    """Elements sticking out past the right edge of the viewport, outside any scrolling
    container (a scroller may hold a wide plate map; the page itself must not scroll
    sideways)."""
    return list(page.evaluate("""() => {
      const width = document.documentElement.clientWidth;
      const out = [];
      const scrolls = (el) => {
        for (let p = el.parentElement; p; p = p.parentElement) {
          const s = getComputedStyle(p);
          if (['auto', 'scroll', 'hidden'].includes(s.overflowX) && p !== document.body
              && p !== document.documentElement) return true;
        }
        return false;
      };
      for (const el of document.body.querySelectorAll('*')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.right <= width + 1 || scrolls(el)) continue;
        if (getComputedStyle(el).position === 'fixed') continue;
        const cls = typeof el.className === 'string' && el.className
          ? '.' + el.className.split(' ').join('.') : '';
        out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${cls}` +
                 ` right=${Math.round(r.right)}`);
      }
      if (document.documentElement.scrollWidth > width + 1)
        out.push(`document scrollWidth=${document.documentElement.scrollWidth} > ${width}`);
      return out.slice(0, 10);
    }"""))


def look(page: Any, name: str, *, stack: str, a11y: bool = True, layout: bool = True) -> None:
    """Screenshot ``page`` at 1280 px and 390 px (full page), check at each width (with
    ``layout``) that nothing overflows sideways and (with ``a11y``) that axe-core finds no
    serious or critical violation; the viewport is left at 1280 px."""
    d = shots_dir(stack)
    for label, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # one layout pass
        page.screenshot(path=str(d / f"{name}-{label}.png"), full_page=True)
        if not layout:
            continue
        sticking_out = overflow(page)
        assert not sticking_out, f"{name} at {label} px overflows: {sticking_out}"
        if a11y:
            assert_accessible(page, f"{name} at {label} px")
    page.set_viewport_size(DESKTOP)
