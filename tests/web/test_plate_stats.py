"""Heatmap scale, labels and units, control wells and Z′, row/column trends, the SVG's
cells by why they have no value; and error pages: HTML for browsers, JSON for the API."""

from __future__ import annotations

import math
import re

import pytest

from platequeue.errors import Invalid
from tests.web.pages_fixtures import Web, web
from web.pages_heatmap import WellValue, heatmap_svg
from web.plate_stats import format_number, parse_wells, scale_for, trends, units, z_prime

__all__ = ["web"]


@pytest.mark.parametrize(("value", "text"), [
    (3.294e05, "329\u2009400"), (12.5, "12.5"), (0.01234, "0.01234"), (-42.0, "-42"),
    (7.0, "7"), (123456.7, "123\u2009457"),
    (2.5e-6, "2.5e-6"), (7.25e9, "7.25e9"), (0.0, "0")])
def test_numbers_are_never_cut_short(value: float, text: str) -> None:
    assert format_number(value) == text


def test_scale_is_robust_ticks_round_and_inside() -> None:
    values = [100.0 + i for i in range(96)] + [1e6]  # one wild well
    s = scale_for(values)
    assert s.vmax == 1e6 and s.vmin == 100.0 and s.clipped_high and s.clipped_low
    assert 100 < s.lo < 104 and 190 < s.hi < 200  # the wild well does not set the scale
    assert all(s.lo <= t <= s.hi for t in s.ticks) and len(s.ticks) >= 3
    steps = {round(b - a, 9) for a, b in zip(s.ticks, s.ticks[1:], strict=False)}
    assert len(steps) == 1 and steps.pop() in (10, 20, 25, 50)
    assert s.fraction(1e6) == 1.0 and s.fraction(0) == 0.0
    flat = scale_for([5.0] * 10)  # all equal: still a usable band
    assert flat.lo < 5 < flat.hi and flat.fraction(5.0) == pytest.approx(0.5)


def test_units_of_builtin_features() -> None:
    assert units("count") == "objects per field"
    assert units("mean_area") == units("ring_mean_area") == "px²"
    assert units("mean_intensity_cyto") == "intensity (image units)"
    assert units("qc_saturated_fraction") == "fraction of pixels"
    assert units("something_new") == ""


def test_control_wells_parse_ranges_and_refuse_nonsense() -> None:
    assert parse_wells("A1, a2,H11:H12", 8, 12) == ["A1", "A2", "H11", "H12"]
    assert parse_wells("B2:A1", 8, 12) == ["A1", "A2", "B1", "B2"]
    assert parse_wells("P24", 16, 24) == ["P24"]
    for bad, why in (("Z99", "not on this 8×12 plate"), ("A13", "not on this"),
                     ("hello", "not a well label"), ("A1:B2:C3", "two wells")):
        with pytest.raises(Invalid, match=why):
            parse_wells(bad, 8, 12)


def test_z_prime_known_value_and_undefined_cases() -> None:
    z = z_prime([10.0, 12.0], [1.0, 3.0])  # sd 1.414 each, means 11 and 2
    assert z.value == pytest.approx(1 - 3 * (2 * math.sqrt(2)) / 9)
    assert "marginal" in z.verdict
    assert z_prime([10.0], [1.0, 2.0]).value is None
    assert z_prime([1.0, 2.0], [2.0, 1.0]).note == "the two control groups have the same mean"
    assert z_prime([100.0, 100.5], [0.0, 0.5]).verdict.startswith("excellent")


def test_trends_reveal_an_edge_effect() -> None:
    cells = [(r, c, 50.0 if r in (0, 7) or c in (0, 11) else 100.0)
             for r in range(8) for c in range(12)]
    t = trends(cells, 8, 12)
    assert t.edge_ratio == pytest.approx(0.5)
    assert t.rows[0] == 50.0 and t.rows[3] == pytest.approx((2 * 50 + 10 * 100) / 12)
    assert len(t.columns) == 12 and t.columns[0] == 50.0


def test_svg_labels_fit_and_cells_drawn_by_why() -> None:
    values = [WellValue("A1", 0, 0, 3.294e5, 2, 0.0), WellValue("A2", 0, 1, 3.1e5, 2, 0.0),
              WellValue("B1", 1, 0, 2.9e5, 2, 0.0)]
    states = {"A1": "succeeded", "A2": "succeeded", "B1": "succeeded", "B2": "failed",
              "A3": "running", "B3": "cancelled", "C1": "succeeded"}
    svg = heatmap_svg(values, rows=3, columns=4, feature="total_intensity",
                      row_names=["A", "B", "C"], scale=scale_for([v.value for v in values]),
                      unit="intensity × px²", states=states, controls={"A1": "pos"})
    width = float(re.search(r'width="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    for x, text in re.findall(r'class="axis tick-label" x="([\d.]+)"[^>]*>([^<]+)<', svg):
        assert float(x) + 6.6 * len(text) < width, (x, text, width)  # inside the picture
        assert "e+0" not in text
    assert "total_intensity (intensity × px²)" in svg
    kinds = dict(re.findall(r'data-state="(\w+)" data-well="(\w+)"', svg))
    assert kinds == {"failed": "B2", "pending": "A3", "cancelled": "B3", "missing": "C1"}
    assert svg.count('data-state="absent"') == 12 - len(states)  # C2, C3, A4, B4, C4
    assert svg.count('class="control pos"') == 1


def test_errors_are_html_for_browsers_json_for_the_api(web: Web) -> None:
    def boom() -> None:
        raise RuntimeError("a bug")

    web.app.add_url_rule("/boom", "boom", boom)
    web.app.add_url_rule("/api/boom", "api_boom", boom)
    c = web.client("demo")
    page = c.get("/no/such/page", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert 'id="error-message"' in page.get_data(as_text=True)
    assert c.get("/no/such/page").get_json()["error"]  # a script asking for nothing
    api = c.get("/api/runs/999999", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.get_json()["error"]
    web.app.config["TESTING"] = False  # as served: errors are answered, not raised
    res = c.get("/boom", headers={"Accept": "text/html"})
    assert res.status_code == 500 and "Something went wrong" in res.get_data(as_text=True)
    assert "a bug" not in res.get_data(as_text=True)  # no internals shown
    res = c.get("/api/boom")
    assert res.status_code == 500 and "error" in res.get_json()
