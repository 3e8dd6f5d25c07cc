"""The plate page on a corrupt or hostile OMERO geometry: bounded like submit, never a giant
grid or a crash (``platequeue.runs.geometry_problem``, ``MAX_ROWS`` x ``MAX_COLUMNS``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, update

from platequeue import runs
from platequeue.demo import schema as omero
from tests.web.conftest import SmallStack
from tests.web.pages_fixtures import login


class Page:
    """A signed-in ``demo`` on the small stack, and the OMERO rows of its 4-well plate."""

    def __init__(self, small_stack: SmallStack) -> None:
        from web import create_app

        platform = small_stack.platform(APP_ENV="development")
        app = create_app(platform=platform)
        app.config["TESTING"] = True
        self.client: FlaskClient = app.test_client()
        login(self.client, "demo")
        demo = platform.catalog.find_user("demo")
        assert demo is not None
        self.plate_id = next(p.id for p in platform.catalog.plates_for_user(demo.id)
                             if p.name == "Demo plate 1")
        self.engine = create_engine(small_stack.env["OMERO_DB_URL"])

    def corrupt(self, table: Any, **values: Any) -> None:
        """Write *values* straight into the OMERO rows of the plate (or its wells)."""
        key = table.c.id if table is omero.plate else table.c.plate
        with self.engine.begin() as conn:
            conn.execute(update(table).where(key == self.plate_id).values(**values))

    def html(self) -> str:
        r = self.client.get(f"/plates/{self.plate_id}")
        assert r.status_code == 200
        return r.get_data(as_text=True)


@pytest.fixture
def page(small_stack: SmallStack) -> Iterator[Page]:
    p = Page(small_stack)
    yield p
    p.engine.dispose()


def _grid_cells(html: str) -> int:
    return len(re.findall(r'class="well (?:present|absent)" data-well=', html))


def test_declared_geometry_beyond_the_largest_plate_is_a_notice_not_a_grid(page: Page) -> None:
    assert _grid_cells(page.html()) == 8 * 12  # the 4 wells laid out on a 96-well plate
    page.corrupt(omero.plate, rows=8, columns=10_000)
    html = page.html()
    assert 'id="geometry-problem"' in html
    assert (f"plate {page.plate_id} has an unsupported geometry (8 x 10000 wells; "
            f"at most {runs.MAX_ROWS} x {runs.MAX_COLUMNS})") in html
    assert "plate-grid" not in html and _grid_cells(html) == 0
    assert len(html) < 50_000
    # the wells are still listed, each opening its images; the rest of the page is there
    listed = re.findall(r'<li><a data-well="([A-Z]+\d+)" href="[^"]+/image', html)
    assert listed == ["A1", "A2", "A3", "A4"]
    assert '<b id="n-wells">4</b>' in html and "Analyse this plate" in html
    # the submit form draws no 10,000-column well picker either, and says why
    form = page.client.get(f"/submit?plate={page.plate_id}")
    assert form.status_code == 200
    text = form.get_data(as_text=True)
    assert 'id="geometry-problem">Wells cannot be picked: plate' in text
    assert 'class="well-picker"' not in text and len(text) < 100_000


def test_a_well_far_outside_the_plate_is_a_notice_not_a_grid(page: Page) -> None:
    with page.engine.begin() as conn:
        well_id = conn.execute(omero.well.select().where(
            omero.well.c.plate == page.plate_id).order_by(omero.well.c.id)).first().id
        conn.execute(update(omero.well).where(omero.well.c.id == well_id)
                     .values(column=9_999))
    html = page.html()
    assert "unsupported geometry (8 x 10000 wells" in html
    assert _grid_cells(html) == 0 and 'data-well="A10000"' in html


@pytest.mark.parametrize("declared", [{"rows": None, "columns": None},
                                      {"rows": -3, "columns": -70_000}])
def test_missing_or_negative_sizes_lay_out_the_wells_present(page: Page,
                                                             declared: dict[str, Any]) -> None:
    page.corrupt(omero.plate, **declared)
    html = page.html()
    assert 'id="geometry-problem"' not in html
    assert _grid_cells(html) == 4  # one row of the four wells present
    assert re.findall(r'class="well present" data-well="(\w+)"', html) == [
        "A1", "A2", "A3", "A4"]


def test_negative_sizes_on_a_plate_without_wells_is_a_notice(page: Page) -> None:
    with page.engine.begin() as conn:
        wells = omero.well.select().where(omero.well.c.plate == page.plate_id)
        ids = [w.id for w in conn.execute(wells)]
        conn.execute(omero.wellsample.delete().where(omero.wellsample.c.well.in_(ids)))
        conn.execute(omero.well.delete().where(omero.well.c.id.in_(ids)))
    page.corrupt(omero.plate, rows=-1, columns=-1)
    html = page.html()
    assert "unsupported geometry (-1 x -1 wells" in html and _grid_cells(html) == 0


@pytest.mark.parametrize("position", [{"row": None}, {"column": -2}])
def test_a_well_without_a_valid_position_is_left_out(page: Page,
                                                     position: dict[str, Any]) -> None:
    with page.engine.begin() as conn:
        well_id = conn.execute(omero.well.select().where(
            omero.well.c.plate == page.plate_id).order_by(omero.well.c.id)).first().id
        conn.execute(update(omero.well).where(omero.well.c.id == well_id).values(**position))
    html = page.html()  # 200, not a 500 from a label that cannot be made
    assert '<b id="n-wells">3</b>' in html and 'id="geometry-problem"' not in html
    assert page.client.get(f"/submit?plate={page.plate_id}").status_code == 200
