"""Catalog lookups the pages show beside a plate or an image: a plate's acquisitions and an
image's stored pixel size, on SQLite and PostgreSQL OMERO databases."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from platequeue.demo import FixtureBuilder
from platequeue.omero import Acquisition, OmeroCatalog, acquisitions, physical_size


def _plates(engine: Engine, tmp_path: Path) -> tuple[int, int, int]:
    """A plate with three acquisitions, one without; and a pixels id of the first."""
    b = FixtureBuilder(engine, tmp_path)
    b.bootstrap()
    gid = b.add_group("lab")
    uid = b.add_user("owner", groups=(gid,))
    small = {"wells": [(0, 0)], "size": 96, "count_range": (1, 2)}
    three = b.add_plate("three runs", owner=uid, group=gid, fields=3, acquisitions=3,
                        **small)  # type: ignore[arg-type]
    none = b.add_plate("no runs", owner=uid, group=gid, fields=1,
                       **small)  # type: ignore[arg-type]
    pixels_id = OmeroCatalog(engine).pixels(three.images["A1"][0]).id
    return three.id, none.id, pixels_id


def test_acquisitions_oldest_first_and_plates_without_left_out(engine: Engine,
                                                               tmp_path: Path) -> None:
    three, none, _ = _plates(engine, tmp_path)
    found = acquisitions(engine, [none, three])
    assert list(found) == [three]
    acqs = found[three]
    assert [a.name for a in acqs] == ["Run 1", "Run 2", "Run 3"]
    assert [a.fields for a in acqs] == [3, 3, 3]
    assert acqs[0].start == datetime(2024, 3, 5, 10, 0)
    assert acqs[2].end == datetime(2024, 3, 5, 12, 50)
    assert acqs[0].when == "2024-03-05 10:00\u201310:50 UTC"
    assert acquisitions(engine, []) == {}
    assert acquisitions(engine, [none]) == {}


def test_acquisition_without_times_or_name() -> None:
    bare = Acquisition(7, "Acquisition 7", None, None, None)
    assert bare.when == "time not recorded"
    late = Acquisition(8, "x", datetime(2024, 1, 1, 23, 0), datetime(2024, 1, 2, 1, 0), 1)
    assert late.when == "2024-01-01 23:00\u20132024-01-02 01:00 UTC"


def test_physical_size_known_unknown_and_unreachable(engine: Engine, tmp_path: Path) -> None:
    _, _, pixels_id = _plates(engine, tmp_path)
    size = physical_size(engine, pixels_id)
    assert size == (0.65, "µm")  # what the fixture stores
    assert physical_size(engine, 999_999_999) is None
    with engine.begin() as conn:
        conn.execute(text("UPDATE pixels SET physicalsizexvalue = 0 WHERE id = :id"),
                     {"id": pixels_id})
    assert physical_size(engine, pixels_id) is None
    gone = create_engine(f"sqlite:///{tmp_path}/no/such/dir/omero.db")
    assert physical_size(gone, pixels_id) is None  # the page shows no scale bar, no 500
    gone.dispose()
