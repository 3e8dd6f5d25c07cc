"""The omero-py objects the write-back builds, checked with omero-py but no OMERO server."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest

pytest.importorskip("omero.grid")

import omero.clients  # registers the omero.model *I classes
import omero.grid

from platequeue.omero import (
    NS_BULK,
    NS_MAP,
    ColumnSpec,
    MaskSpec,
    masks_from_labels,
    table_columns,
    well_key_values,
    write_back,
)
from platequeue.omero import _omero_calls as calls
from platequeue.testing import free_port

ROWS: list[dict[str, Any]] = [
    {"well_id": 11, "image_id": 101, "field": 0, "nuclei_count": 5, "mean_area": 80.5,
     "label": "A1"},
    {"well_id": 11, "image_id": 102, "field": 1, "nuclei_count": 7, "mean_area": 90.5,
     "label": "A1"},
    {"well_id": 12, "image_id": 103, "field": 0, "nuclei_count": 0, "mean_area": None,
     "label": "A2ü-long"},
]


def test_grid_columns_classes_and_values() -> None:
    specs = table_columns(ROWS)
    cols = calls.grid_columns(specs, len(ROWS))
    by_name = {c.name: c for c in cols}
    assert [c.name for c in cols] == [s.name for s in specs]
    expected = {"Well": omero.grid.WellColumn, "Image": omero.grid.ImageColumn,
                "field": omero.grid.LongColumn, "nuclei_count": omero.grid.LongColumn,
                "mean_area": omero.grid.DoubleColumn, "label": omero.grid.StringColumn}
    for name, cls in expected.items():
        assert type(by_name[name]) is cls, name
    assert by_name["Well"].values == [11, 11, 12]
    assert by_name["Image"].values == [101, 102, 103]
    assert by_name["nuclei_count"].values == [5, 7, 0]
    assert all(type(v) is int for c in cols if not isinstance(
        c, omero.grid.DoubleColumn | omero.grid.StringColumn) for v in c.values)
    area = by_name["mean_area"].values
    assert area[:2] == [80.5, 90.5] and math.isnan(area[2])
    label = by_name["label"]
    assert label.values == ["A1", "A1", "A2ü-long"]
    assert label.size >= max(len(v.encode()) for v in label.values) == len("A2ü-long".encode())


def test_grid_columns_plain_python_values_and_errors() -> None:
    cols = calls.grid_columns([
        ColumnSpec("LongColumn", "n", [np.int64(3), True]),
        ColumnSpec("DoubleColumn", "d", [np.float32(0.5), None, 2]),
        ColumnSpec("StringColumn", "s", ["abcdef", None], size=2),
    ])
    assert cols[0].values == [3, 1] and all(type(v) is int for v in cols[0].values)
    assert cols[1].values[0] == 0.5 and math.isnan(cols[1].values[1])
    assert all(type(v) is float for v in cols[1].values)
    assert cols[2].values == ["abcdef", ""] and cols[2].size == 6  # spec size too small
    with pytest.raises(ValueError, match="unsupported column kind"):
        calls.grid_columns([ColumnSpec("BoolColumn", "b", [True])])
    with pytest.raises(ValueError, match="expected 3"):
        calls.grid_columns([ColumnSpec("LongColumn", "n", [1, 2])], 3)
    with pytest.raises(ValueError, match="missing values"):
        calls.grid_columns([ColumnSpec("WellColumn", "Well", [1, None])])
    with pytest.raises(ValueError, match="at least one column"):
        calls.grid_columns([])


def _decode(shape: Any) -> tuple[int, int, np.ndarray]:
    """A MaskI's box origin and its bits unpacked to the (height, width) box."""
    x, y = int(shape.getX().getValue()), int(shape.getY().getValue())
    w, h = int(shape.getWidth().getValue()), int(shape.getHeight().getValue())
    raw = np.frombuffer(shape.getBytes(), dtype=np.uint8)
    return x, y, np.unpackbits(raw)[: w * h].reshape(h, w).astype(bool)


def test_mask_rois_decode_to_the_label_pixels() -> None:
    from omero.model import MaskI, RoiI

    rng = np.random.default_rng(1)
    labels = {}
    for image_id in (101, 102):
        lab = np.zeros((30, 40), np.int32)
        lab[2:9, 5:16] = np.where(rng.random((7, 11)) > 0.3, 1, 0)
        lab[2, 5] = lab[8, 15] = 1
        lab[15:28, 20:23] = 2  # 3 wide: packed bits cross byte boundaries per row
        lab[20:22, 30:39] = 4
        labels[image_id] = lab
    masks = {i: masks_from_labels(lab) for i, lab in labels.items()}
    rois = calls.mask_rois(masks, name="platequeue nuclei", the_z=2, the_t=0)
    assert len(rois) == 6 and all(isinstance(r, RoiI) for r in rois)
    seen = set()
    for roi in rois:
        image_id = int(roi.getImage().getId().getValue())
        assert roi.getImage().isLoaded() is False
        assert roi.getName().getValue() == "platequeue nuclei"
        (shape,) = roi.copyShapes()
        assert isinstance(shape, MaskI)
        label = int(shape.getTextValue().getValue())
        x, y, bits = _decode(shape)
        lab = labels[image_id]
        full = np.zeros(lab.shape, bool)
        full[y : y + bits.shape[0], x : x + bits.shape[1]] = bits
        np.testing.assert_array_equal(full, lab == label)
        assert shape.getTheZ().getValue() == 2 and shape.getTheT().getValue() == 0
        assert shape.getTheC() is None
        seen.add((image_id, label))
    assert seen == {(i, lab) for i in (101, 102) for lab in (1, 2, 4)}


def test_mask_rois_rejects_inconsistent_bytes_and_leaves_planes_unset() -> None:
    ok = MaskSpec(1, 0, 0, 3, 3, np.packbits(np.ones(9, bool)).tobytes())
    (roi,) = calls.mask_rois({5: [ok]}, name="n", the_z=None, the_t=None, the_c=1)
    (shape,) = roi.copyShapes()
    assert shape.getTheZ() is None and shape.getTheT() is None
    assert shape.getTheC().getValue() == 1
    with pytest.raises(ValueError, match="expected 2"):
        calls.mask_rois({5: [MaskSpec(1, 0, 0, 3, 3, b"\xff")]}, name="n")
    with pytest.raises(ValueError, match="empty mask box"):
        calls.mask_rois({5: [MaskSpec(1, 0, 0, 0, 3, b"")]}, name="n")
    assert calls.mask_rois({}, name="n") == []


def test_well_map_annotations() -> None:
    from omero.model import MapAnnotationI, WellAnnotationLinkI

    anns = calls.well_map_annotations(well_key_values(ROWS), name="platequeue nuclei")
    assert set(anns) == {11, 12}
    a11 = anns[11]
    assert isinstance(a11, MapAnnotationI)
    assert a11.getNs().getValue() == NS_MAP
    assert a11.getDescription().getValue() == "platequeue nuclei"
    assert [(nv.name, nv.value) for nv in a11.getMapValue()] == [
        ("pipeline", "platequeue nuclei"), ("nuclei_count", "12"), ("mean_area", "85.5"),
        ("label", "A1")]
    links = calls.well_annotation_links(anns)
    assert all(isinstance(link, WellAnnotationLinkI) for link in links)
    assert {int(link.getParent().getId().getValue()): link.getChild() for link in links} == anns


def test_table_annotation_link_and_names() -> None:
    from omero.model import FileAnnotationI, PlateAnnotationLinkI

    link = calls.table_annotation_link(7, 99, name="platequeue nuclei")
    assert isinstance(link, PlateAnnotationLinkI)
    assert link.getParent().getId().getValue() == 7
    fa = link.getChild()
    assert isinstance(fa, FileAnnotationI)
    assert fa.getNs().getValue() == NS_BULK
    assert fa.getFile().getId().getValue() == 99 and fa.getFile().isLoaded() is False
    names = calls.file_names("platequeue nuclei/v2 (ü)")
    assert names.table == "platequeue_nuclei_v2.h5" and names.csv == "platequeue_nuclei_v2.csv"
    assert calls.file_names("../").table == "platequeue.h5"
    assert calls.NS_CSV != NS_BULK  # OMERO.web would try to open the CSV as a table


def test_is_previous_run() -> None:
    name = "platequeue nuclei"
    assert calls.is_previous_run(NS_BULK, name, name)
    assert calls.is_previous_run(calls.NS_CSV, name, name)
    assert not calls.is_previous_run(NS_BULK, "platequeue nuclei-v2", name)
    assert not calls.is_previous_run("other/ns", name, name)
    assert calls.is_previous_run(NS_MAP, None, name, [["pipeline", name], ["n", "1"]])
    assert not calls.is_previous_run(NS_MAP, None, name, [["pipeline", "other"]])
    assert not calls.is_previous_run(NS_MAP, None, name, [])


def test_connect_fails_fast_and_clearly_on_a_closed_port() -> None:
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(calls.OmeroUnreachable, match=f"cannot reach OMERO at localhost:{port}"):
        calls.connect("localhost", port, "not-a-real-session-key")
    assert time.monotonic() - t0 < 10


def test_write_back_fails_before_touching_anything_on_a_closed_port() -> None:
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        write_back("localhost", port, "secret-session-key", 1, ROWS, name="platequeue nuclei")
    assert time.monotonic() - t0 < 10
    assert "secret-session-key" not in str(info.value)


def test_write_back_builds_before_connecting() -> None:
    # A bad mask is refused before any connection is tried (port 1 would be refused too,
    # but the error must be the builder's).
    with pytest.raises(ValueError, match="mask bytes"):
        write_back("localhost", 1, "k", 1, ROWS, name="n",
                   well_masks={101: [MaskSpec(1, 0, 0, 4, 4, b"\x00")]})


def test_can_read_plate_via_session_unreachable_is_not_a_no() -> None:
    from platequeue.omero import can_read_plate_via_session

    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(calls.OmeroUnreachable):
        can_read_plate_via_session("localhost", port, "k", 1)
    assert time.monotonic() - t0 < 10
