from __future__ import annotations

import math
import os

import numpy as np
import pytest

from platequeue.omero import (
    csv_bytes,
    decode_mask,
    encode_mask,
    masks_from_labels,
    omero_available,
    table_columns,
    well_key_values,
    write_back,
)

ROWS = [
    {"well_id": 11, "image_id": 101, "field": 0, "nuclei_count": 5, "mean_area": 80.5,
     "label": "A1"},
    {"well_id": 11, "image_id": 102, "field": 1, "nuclei_count": 7, "mean_area": 90.5,
     "label": "A1"},
    {"well_id": 12, "image_id": 103, "field": 0, "nuclei_count": 0, "mean_area": None,
     "label": "A2ü"},
]


def test_table_columns() -> None:
    cols = {c.name: c for c in table_columns(ROWS)}
    assert cols["Well"].kind == "WellColumn" and cols["Well"].values == [11, 11, 12]
    assert cols["Image"].kind == "ImageColumn"
    assert cols["field"].kind == "LongColumn"
    assert cols["nuclei_count"].kind == "LongColumn" and cols["nuclei_count"].values == [5, 7, 0]
    area = cols["mean_area"]
    assert area.kind == "DoubleColumn" and math.isnan(area.values[2])
    assert cols["label"].kind == "StringColumn" and cols["label"].size == len("A2ü".encode())
    gaps = table_columns([{"well_id": 1, "n": 1}, {"well_id": 2, "n": None}])
    assert gaps[1].kind == "DoubleColumn"
    with pytest.raises(ValueError, match="no measurement rows"):
        table_columns([])
    with pytest.raises(ValueError, match="well_id missing"):
        table_columns([{"well_id": None, "x": 1}])


def test_csv_bytes() -> None:
    text = csv_bytes(ROWS).decode()
    lines = text.splitlines()
    assert lines[0] == "well_id,image_id,field,nuclei_count,mean_area,label"
    assert lines[1] == "11,101,0,5,80.5,A1"
    assert lines[3] == "12,103,0,0,,A2ü"


def test_well_key_values() -> None:
    kv = well_key_values(ROWS)
    assert dict(kv[11]) == {"nuclei_count": "12", "mean_area": "85.5", "label": "A1"}
    assert dict(kv[12]) == {"nuclei_count": "0", "label": "A2ü"}


@pytest.mark.parametrize("shape", [(7, 9), (16, 33), (1, 1)])
def test_mask_roundtrip(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    m = np.zeros((40, 50), bool)
    y, x = 3, 5
    block = rng.random(shape) > 0.4
    block[0, 0] = block[-1, -1] = True
    m[y : y + shape[0], x : x + shape[1]] = block
    spec = encode_mask(m, label=3)
    assert spec is not None
    assert (spec.x, spec.y, spec.width, spec.height) == (x, y, shape[1], shape[0])
    assert spec.bytes == np.packbits(block.ravel()).tobytes()
    np.testing.assert_array_equal(decode_mask(spec), block)
    assert encode_mask(np.zeros((4, 4), bool)) is None
    with pytest.raises(ValueError, match="2-D"):
        encode_mask(np.zeros((2, 2, 2), bool))


def test_masks_from_labels() -> None:
    lab = np.zeros((20, 20), np.int32)
    lab[2:5, 3:9] = 1
    lab[10:18, 12:15] = 3
    specs = masks_from_labels(lab)
    assert [(s.label, s.x, s.y, s.width, s.height) for s in specs] == [
        (1, 3, 2, 6, 3), (3, 12, 10, 3, 8)]
    assert decode_mask(specs[1]).all()


@pytest.mark.skipif(not os.environ.get("OMERO_HOST"), reason="needs a real OMERO server")
def test_write_back_live() -> None:
    if not omero_available():
        pytest.skip("omero-py not installed")
    ids = write_back(os.environ["OMERO_HOST"], int(os.environ.get("OMERO_PORT", "4064")),
                     os.environ["OMERO_SESSION_KEY"], int(os.environ["OMERO_PLATE_ID"]),
                     ROWS, name="platequeue-test")
    assert ids["table_file"] > 0
