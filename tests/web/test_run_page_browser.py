"""The run page in a real browser, without workers (the run stays queued until we say so):
the plate-map legend's colours under deuteranopia/protanopia simulation, keyboard-only use
of the plate map, Cancel's confirmation (declined, then accepted), the results page of an
unfinished run saying it is partial, HTML error pages, and axe-core on each page at 1280
and 390 px."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest

from platequeue.testing import served
from tests.web.browser import DESKTOP, chromium, look
from tests.web.pages_fixtures import Web, finish_run, submit, web

__all__ = ["web"]

# Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB.
MACHADO = {
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
}
MIN_DELTA_E = 15.0  # CIE76 ΔE*ab: clearly different at a glance for swatches this size


def _linear(c: float) -> float:
    c /= 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = rgb
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def simulate(css_rgb: str, matrix: Any) -> tuple[float, float, float]:
    """CIELAB of a computed ``rgb(r, g, b)`` colour as seen with the deficiency."""
    r, g, b = (float(v) for v in re.findall(r"[\d.]+", css_rgb)[:3])
    lin = (_linear(r), _linear(g), _linear(b))
    seen = tuple(min(1.0, max(0.0, sum(m * v for m, v in zip(row, lin, strict=True))))
                 for row in matrix)
    return _lab(seen)  # type: ignore[arg-type]


def test_simulation_matches_known_confusions() -> None:
    """The simulation itself: red and green collapse for a deuteranope, blue and yellow
    do not."""
    red_green = math.dist(simulate("rgb(200, 60, 60)", MACHADO["deuteranopia"]),
                          simulate("rgb(110, 110, 40)", MACHADO["deuteranopia"]))
    blue_yellow = math.dist(simulate("rgb(40, 80, 220)", MACHADO["deuteranopia"]),
                            simulate("rgb(230, 200, 40)", MACHADO["deuteranopia"]))
    assert red_green < 12 < 60 < blue_yellow


@pytest.fixture
def app_url(web: Web) -> Iterator[str]:
    from web import create_app

    app = create_app(platform=web.stack.platform())
    with served(app) as url:
        yield url


def _dev_sign_in(page: Any, url: str, omename: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=omename]", omename)
    page.click("#sign-in-dev button[type=submit]")
    page.wait_for_url(url + "/runs")


def test_run_page_legend_keyboard_cancel_and_errors(web: Web, app_url: str) -> None:
    from playwright.sync_api import expect

    run_id = submit(web.platform, "demo", web.demo_plate)
    done = submit(web.platform, "demo", web.demo_plate)
    finish_run(web.platform, done, {"A1": 30.0, "A2": 31.0, "H11": 2.0, "H12": 3.0})
    with chromium() as browser:
        page = browser.new_page(viewport=DESKTOP)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _dev_sign_in(page, app_url, "demo")
        look(page, "runs", stack="quick")
        expect(page.locator(f'tr[data-run="{run_id}"] time')).to_have_count(1)
        stamp = page.locator(f'tr[data-run="{run_id}"] time').inner_text()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \S+", stamp), stamp  # zone named
        page.goto(f"{app_url}/runs/{run_id}")
        expect(page.locator("#plate-map .well.s-queued")).to_have_count(96)

        # -- the legend: every pair of states distinguishable under CVD simulation ----------
        legend = page.evaluate("""() => [...document.querySelectorAll('#legend li')].map(li => {
            const w = li.querySelector('.well'); const s = getComputedStyle(w);
            const a = getComputedStyle(w, '::after');
            return {state: li.dataset.state, fill: s.backgroundColor,
                    cue: [a.content, s.borderStyle, s.backgroundImage].join('|')};
        })""")
        states = {item["state"] for item in legend}
        assert {"queued", "running", "retry", "succeeded", "failed", "cancelled",
                "absent"} <= states
        cues = [item["cue"] for item in legend]
        assert len(set(cues)) == len(cues), cues  # a distinct non-colour cue for each state
        for deficiency, matrix in MACHADO.items():
            for a, b in itertools.combinations(legend, 2):
                de = math.dist(simulate(a["fill"], matrix), simulate(b["fill"], matrix))
                # absent differs by its dashed, hatched outline as well as by colour
                if "absent" in (a["state"], b["state"]):
                    assert a["cue"] != b["cue"]
                    continue
                assert de >= MIN_DELTA_E, (deficiency, a, b, de)

        # -- keyboard only: Tab into the map, arrows, Enter ----------------------------------
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.getAttribute('role')") == "gridcell":
                break
        else:
            raise AssertionError("Tab never reached the plate map")
        assert page.evaluate("document.activeElement.dataset.well") == "A1"
        for key in ("ArrowRight", "ArrowRight", "ArrowDown", "ArrowLeft", "ArrowRight"):
            page.keyboard.press(key)
        assert page.evaluate("document.activeElement.dataset.well") == "B3"
        page.keyboard.press("Enter")
        expect(page.locator("#well-detail h3")).to_have_text("Well B3: queued")
        page.keyboard.press("End")
        assert page.evaluate("document.activeElement.dataset.well") == "B12"
        page.keyboard.press("Control+End")
        assert page.evaluate("document.activeElement.dataset.well") == "H12"
        page.keyboard.press(" ")
        expect(page.locator("#well-detail h3")).to_have_text("Well H12: queued")
        # one tab stop for the whole map: Tab leaves it
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('role')") != "gridcell"
        look(page, "run-queued", stack="quick")

        # -- results of an unfinished run say so ---------------------------------------------
        page.goto(f"{app_url}/runs/{run_id}/results")
        expect(page.locator("#partial-note")).to_contain_text("Partial results")
        look(page, "results-partial", stack="quick")

        # -- a finished run's heatmap with controls and the plate summary --------------------
        page.goto(f"{app_url}/runs/{done}/results?feature=count")
        page.fill("#pos", "A1:A2")
        page.fill("#neg", "H11,H12")
        page.click("#zprime-button")
        expect(page.locator("#zprime")).to_contain_text("Z′-factor =")
        expect(page.locator("svg.heatmap text.control")).to_have_count(4)
        expect(page.locator("#edge-effect")).to_contain_text("of the interior")
        look(page, "results-controls", stack="quick")
        page.fill("#pos", "Z99")
        page.click("#zprime-button")
        expect(page.locator("#controls-error")).to_contain_text("Z99")
        expect(page.locator("#pos")).to_have_value("Z99")

        # -- Cancel asks first: "Keep it running" changes nothing, confirming cancels ---------
        page.goto(f"{app_url}/runs/{run_id}")
        page.click("#cancel")
        dialog = page.locator("#confirm-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(f"Cancel run {run_id}?")
        look(page, "run-cancel-dialog", stack="quick")
        page.click("#confirm-no")
        expect(dialog).to_be_hidden()
        page.wait_for_timeout(500)
        expect(page.locator("#run-status")).to_have_text("queued")
        page.click("#cancel")
        page.click("#confirm-yes")
        page.wait_for_url(f"{app_url}/runs/{run_id}")
        expect(page.locator(".flash")).to_have_text(f"Run {run_id} cancelled.")
        expect(page.locator("#run-status")).to_have_text("cancelled")
        expect(page.locator("#plate-map .well.s-cancelled")).to_have_count(96)
        expect(page.locator("#cancel-form")).to_be_hidden()
        look(page, "run-cancelled", stack="quick")

        # -- errors: HTML for browsers, JSON under /api/ -------------------------------------
        res = page.goto(f"{app_url}/runs/999999")
        assert res is not None and res.status == 404
        expect(page.locator("h1")).to_contain_text("Not found")
        look(page, "error-404", stack="quick")
        res = page.goto(f"{app_url}/no/such/page")
        assert res is not None and res.status == 404
        expect(page.locator("header.top nav")).to_be_visible()
        api = page.request.get(f"{app_url}/api/runs/999999")
        assert api.status == 404 and "error" in api.json()
        icon = page.request.get(f"{app_url}/favicon.ico")
        assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        assert not errors, errors


@pytest.mark.full_fixture
def test_384_well_run_and_heatmap_pages(web: Web, app_url: str) -> None:
    """The dense plate: the run page's map and the heatmap with every kind of cell, with an
    edge effect planted, at both widths (screenshots, overflow, axe-core)."""
    from playwright.sync_api import expect
    from sqlalchemy import delete, update

    from platequeue.store import Measurement, Run, WellTask, session_scope

    plate = next(p for p in web.stack.manifest.plates  # type: ignore[attr-defined]
                 if p.name == "384 plate with gaps")
    run_id = submit(web.platform, "demo", plate.id)
    edge = {w: 3.0e5 for w in plate.wells if w[0] in "AP" or w[1:] in ("1", "24")}
    finish_run(web.platform, run_id, edge, default=3.3e5)
    kinds = {"failed": ["C3", "C4"], "queued": ["D5", "D6", "D7"], "running": ["E8"],
             "cancelled": ["F9"]}
    with session_scope(web.platform.audit) as s:
        for status, labels in kinds.items():
            ids = list(s.scalars(
                WellTask.__table__.select().with_only_columns(WellTask.well_id)
                .where(WellTask.run_id == run_id, WellTask.label.in_(labels))))
            s.execute(delete(Measurement).where(Measurement.run_id == run_id,
                                                Measurement.well_id.in_(ids)))
            s.execute(update(WellTask).where(WellTask.run_id == run_id,
                                             WellTask.label.in_(labels))
                      .values(status=status))
        s.execute(update(Run).where(Run.id == run_id).values(status="running",
                                                             finalized=False))
    with chromium() as browser:
        page = browser.new_page(viewport=DESKTOP)
        _dev_sign_in(page, app_url, "demo")
        page.goto(f"{app_url}/runs/{run_id}")
        expect(page.locator("#plate-map .well.s-failed")).to_have_count(2)
        expect(page.locator("#plate-map .well.absent")).to_have_count(384 - len(plate.wells))
        look(page, "run-384", stack="quick")
        page.goto(f"{app_url}/runs/{run_id}/results?feature=count")
        expect(page.locator("#partial-note")).to_contain_text("Partial results")
        for kind, n in (("failed", 2), ("pending", 4), ("cancelled", 1),
                        ("absent", 384 - len(plate.wells))):
            expect(page.locator(f'svg.heatmap [data-state="{kind}"]')).to_have_count(n)
        ratio = page.locator("#edge-ratio").inner_text()
        assert ratio == "91 %", ratio  # 3.0e5 against 3.3e5 (+ the per-well spread)
        labels = page.locator("svg.heatmap text.tick-label").all_text_contents()
        assert labels and all("e+0" not in t for t in labels), labels
        look(page, "results-384", stack="quick")
