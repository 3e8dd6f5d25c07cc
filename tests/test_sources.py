"""Runs on the full OMERO fixture through real workers: every storage kind, gaps, float32.

The five "twin" plates hold identical pixels stored as ROMIO ``Pixels/<id>``, OME-TIFF in
the ManagedRepository, a JPEG-2000 ``Pixels/<id>_pyramid`` (lossless) and OME-Zarr NGFF 0.4
and 0.5; their measurements must be identical, feature by feature.
"""

from __future__ import annotations

from typing import Any

import pytest

from platequeue import runs
from platequeue.omero import Source
from tests.conftest import Stack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.full_fixture]
TERMINAL = ("succeeded", "partial", "failed", "cancelled")
TWINS = ("romio twin plate", "ometiff plate", "pyramid plate", "zarr plate", "zarr 0.5 plate")


def _by_name(stack: Stack) -> dict[str, Any]:
    return {p.name: p for p in stack.manifest.plates}  # type: ignore[attr-defined]


def _run_all(stack: Stack, names: tuple[str, ...]) -> dict[str, int]:
    stack.env["QUOTA_CONCURRENT_RUNS"] = str(max(4, len(names)))  # one run per plate at once
    platform = stack.platform()
    plates = _by_name(stack)
    run_ids = {name: runs.submit(platform, omename="demo", plate_id=plates[name].id,
                                 pipeline="nuclei-count").run_id for name in names}
    wait_for(lambda: all(runs.status(platform, r).status in TERMINAL for r in run_ids.values()),
             300, "all runs to finish")
    for name, run_id in run_ids.items():
        view = runs.status(platform, run_id)
        assert view.status == "succeeded", (name, view)
    return run_ids


def _rows(stack: Stack, run_id: int) -> dict[tuple[str, int], dict[str, Any]]:
    _, rows = runs.results(stack.platform(), run_id)
    return {(r["well"], int(r["field"])): r for r in rows}


def _features(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("plate_id", "image_id")}


def test_every_source_kind_gives_identical_measurements(stack: Stack) -> None:
    platform = stack.platform()
    plates = _by_name(stack)
    # The fixture really stores each twin in a different place, and the reader finds it.
    kinds = {name: platform.reader.source(platform.catalog.pixels(
        plates[name].images["A1"][0]))[0] for name in TWINS}
    assert kinds == {"romio twin plate": Source.ROMIO, "ometiff plate": Source.ORIGINAL,
                     "pyramid plate": Source.PYRAMID, "zarr plate": Source.NGFF,
                     "zarr 0.5 plate": Source.NGFF}

    stack.start_worker()
    run_ids = _run_all(stack, TWINS)
    reference = _rows(stack, run_ids["romio twin plate"])
    truth = plates["romio twin plate"]
    assert len(reference) == len(truth.wells) * truth.fields
    for (label, field), row in reference.items():
        assert row["count"] == truth.count(label, field)
    for name in TWINS[1:]:
        rows = _rows(stack, run_ids[name])
        assert rows.keys() == reference.keys(), name
        for key, row in rows.items():
            assert _features(row) == _features(reference[key]), (name, key)


def test_384_plate_with_gaps_and_float_plate(stack: Stack) -> None:
    plates = _by_name(stack)
    stack.start_worker()
    run_ids = _run_all(stack, ("384 plate with gaps", "Float plate"))

    gaps = plates["384 plate with gaps"]
    rows = _rows(stack, run_ids["384 plate with gaps"])
    assert len(gaps.wells) < 384  # the fixture leaves wells out
    assert {label for label, _ in rows} == set(gaps.wells)
    assert len(rows) == len(gaps.wells) * gaps.fields  # 3 fields over 3 acquisitions
    for (label, field), row in rows.items():
        assert row["count"] == gaps.count(label, field), (label, field)
    assert {row["row"] for row in rows.values()} == set(range(16))

    floats = plates["Float plate"]
    assert floats.pixels_type == "float"
    rows = _rows(stack, run_ids["Float plate"])
    assert len(rows) == len(floats.wells) * floats.fields
    for (label, field), row in rows.items():
        assert row["count"] == floats.count(label, field), (label, field)


def test_plates_listing_shows_every_kind(stack: Stack) -> None:
    out = stack.cli("plates", "--user", "demo", "--json", check=True).stdout
    import json

    listed = {p["name"]: p for p in json.loads(out)}
    plates = _by_name(stack)
    for name in (*TWINS, "384 plate with gaps", "Float plate", "Demo plate 1"):
        assert listed[name]["wells"] == len(plates[name].wells), name
        assert listed[name]["fields"] == plates[name].fields, name
    # another group's private plate is not listed for demo
    assert "private plate" not in listed and "Other lab plate" not in listed
