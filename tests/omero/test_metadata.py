from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from platequeue.demo import DemoManifest, reference_count
from platequeue.omero import OmeroCatalog, OmeroNotFoundError, read_field, read_plane, well_label

Demo = tuple[DemoManifest, Engine]


@pytest.mark.parametrize(
    ("row", "col", "kw", "label"),
    [(0, 0, {}, "A1"), (1, 11, {}, "B12"), (15, 23, {}, "P24"), (26, 0, {}, "AA1"),
     (31, 47, {}, "AF48"), (2, 3, {"row_naming": "number"}, "3-4"),
     (2, 3, {"column_naming": "letter"}, "CD"), (0, 0, {"row_naming": None}, "A1")],
)
def test_well_label(row: int, col: int, kw: dict[str, str | None], label: str) -> None:
    assert well_label(row, col, **kw) == label  # type: ignore[arg-type]


def test_find_user(demo: Demo) -> None:
    m, eng = demo
    cat = OmeroCatalog(eng)
    user = cat.find_user("demo")
    assert user is not None and user.id == m.user_id and not user.is_admin
    assert cat.find_user("DEMO@Example.org") == user
    assert cat.find_user("nobody") is None
    assert cat.find_user("  ") is None
    root = cat.find_user("root")
    assert root is not None and root.id == 0 and root.is_admin
    fac = cat.find_user("facility")
    assert fac is not None and fac.is_admin
    assert cat.user(m.user_id) == user


def test_plates_for_user(demo: Demo) -> None:
    m, eng = demo
    cat = OmeroCatalog(eng)
    demo_plate, other_plate = m.plates
    plates = cat.plates_for_user(m.user_id)
    assert [p.id for p in plates] == [demo_plate.id]
    p = plates[0]
    assert (p.rows, p.columns, p.wells, p.fields) == (8, 12, 96, 2)
    assert p.channels == ("DAPI", "GFP")
    assert p.screen_name == "Demo screen" and p.group_id == m.group_id
    assert cat.plate(p.id) == p
    assert cat.plate(999_999) is None
    outsider = m.users["outsider"]
    assert [x.id for x in cat.plates_for_user(outsider)] == [other_plate.id]
    assert not cat.can_read_plate(m.user_id, other_plate.id)
    assert cat.can_read_plate(outsider, other_plate.id)
    assert cat.can_read_plate(m.users["alice"], demo_plate.id)
    assert cat.can_read_plate(m.users["lead"], demo_plate.id)
    assert {x.id for x in cat.plates_for_user(m.users["facility"])} == {
        demo_plate.id, other_plate.id}


def test_wells_and_fields(demo: Demo) -> None:
    m, eng = demo
    cat = OmeroCatalog(eng)
    truth = m.plates[0]
    wells = cat.wells(truth.id)
    assert len(wells) == 96
    assert [w.label for w in wells[:13]] == [f"A{i}" for i in range(1, 13)] + ["B1"]
    for w in wells:
        assert truth.wells[w.label] == w.id
        assert [f.field for f in w.fields] == [0, 1]
        assert [f.image_id for f in w.fields] == truth.images[w.label]
        assert all(f.pixels_id > 999 for f in w.fields)
    one = cat.well(wells[5].id)
    assert one == wells[5]
    assert cat.well(-1) is None


def test_pixels_and_ground_truth(demo: Demo) -> None:
    m, eng = demo
    cat = OmeroCatalog(eng)
    truth = m.plates[0]
    wells = cat.wells(truth.id)
    infos = cat.pixels_many([f.image_id for w in wells for f in w.fields])
    assert len(infos) == 192
    info = cat.pixels(wells[0].fields[0].image_id)
    assert infos[info.image_id] == info
    assert (info.size_x, info.size_y, info.size_z, info.size_c, info.size_t) == (256, 256, 1, 2, 1)
    assert (info.pixels_type, info.dimension_order) == ("uint16", "XYZCT")
    assert info.ngff_path is None and info.path is None
    assert cat.pixels_by_id(info.id) == info
    with pytest.raises(OmeroNotFoundError):
        cat.pixels(-5)
    for w in wells[::7]:
        for f in w.fields:
            field = read_field(m.data_dir, infos[f.image_id])
            assert field.shape == (2, 1, 256, 256)
            assert reference_count(np.asarray(field[0, 0])) == truth.count(w.label, f.field)
    plane = read_plane(m.data_dir, info, c=1)
    assert plane.shape == (256, 256)


def test_manifest_json_roundtrip(demo: Demo) -> None:
    m, _ = demo
    loaded = DemoManifest.load(f"{m.data_dir}/manifest.json")
    assert loaded == m
    assert loaded.plate(m.plates[0].id).total_nuclei == m.plates[0].total_nuclei


def test_permissions_levels_basic(demo: Demo) -> None:
    m, eng = demo
    cat = OmeroCatalog(eng)
    # guest (not a member) cannot read the read-annotate group's plate
    assert not cat.can_read_plate(1, m.plates[0].id)
    assert cat.can_read_image(m.user_id, m.plates[0].images["A1"][0])
    assert not cat.can_read_image(m.users["outsider"], m.plates[0].images["A1"][0])
