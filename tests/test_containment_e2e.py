"""Escapes through paths stored inside image files, end to end with real workers.

A field full of :data:`PLANTED` sits outside the repository; an NGFF dataset path, a zarr
chunk symlink and an OME-TIFF ``UUID FileName`` point at it. The attacked wells fail with
the refusal (logged with the image id), the value never comes back as a measurement, the
other wells succeed. Corrupt chunks and tiles fail their well on the first attempt (a
permanent error, not retried). An in-place import (the OME-TIFF moved to instrument storage,
a symlink left in the ManagedRepository) is read when that storage is in
``OMERO_INPLACE_ROOTS`` and refused when the link leads anywhere else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr
from sqlalchemy import select

from platequeue import runs
from platequeue.store import WellTask, session_scope
from tests.conftest import Stack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.full_fixture]
PLANTED = 4242.0
TERMINAL = ("succeeded", "partial", "failed", "cancelled")


def _submit(stack: Stack, plate_id: int, pipeline: str = "field-qc") -> int:
    return runs.submit(stack.platform(), omename="demo", plate_id=plate_id,
                       pipeline=pipeline).run_id


def _wait(stack: Stack, run_ids: list[int]) -> None:
    platform = stack.platform()
    wait_for(lambda: all(runs.status(platform, r).status in TERMINAL for r in run_ids), 300,
             f"runs {run_ids}")


def _wells(stack: Stack, run_id: int) -> dict[str, tuple[str, str | None, int]]:
    with session_scope(stack.platform().audit) as s:
        rows = s.execute(select(WellTask.label, WellTask.status, WellTask.error,
                                WellTask.attempts).where(WellTask.run_id == run_id)).all()
    return {label: (status, error, attempts) for label, status, error, attempts in rows}


def _values(stack: Stack, run_id: int) -> list[Any]:
    _, rows = runs.results(stack.platform(), run_id)
    return [v for r in rows for k, v in r.items() if k not in ("plate_id", "image_id")]


def _image_dir(stack: Stack, image_id: int) -> Path:
    info = stack.platform().catalog.pixels(image_id)
    assert info.ngff_path
    return stack.settings.omero_data_dir / info.ngff_path


def _planted_copy(level0: Path, dest: Path) -> Path:
    shutil.copytree(level0, dest)
    arr = zarr.open_array(dest, mode="r+")
    arr[...] = PLANTED
    return dest


def _worker_logs(stack: Stack) -> str:
    return "".join(p.read_text(errors="replace") for p in stack.home.glob("worker-*.log"))


def test_escapes_refused_inplace_read_corrupt_data_not_retried(stack: Stack,
                                                               tmp_path: Path) -> None:
    platform = stack.platform()
    plates = {p.name: p for p in stack.manifest.plates}  # type: ignore[attr-defined]
    outside = tmp_path / "outside"
    outside.mkdir()
    z4, z5 = plates["zarr plate"], plates["zarr 0.5 plate"]
    ome, pyr = plates["ometiff plate"], plates["pyramid plate"]

    # NGFF 0.4, well A1 field 1: the dataset path climbs out to a planted array
    a1 = _image_dir(stack, z4.images["A1"][0])
    planted = _planted_copy(a1 / "0", outside / "arr4")
    attrs = json.loads((a1 / ".zattrs").read_text())
    attrs["multiscales"][0]["datasets"][0]["path"] = os.path.relpath(planted, a1)
    (a1 / ".zattrs").write_text(json.dumps(attrs))
    # NGFF 0.5, well A1 field 1: a chunk of level 0 is a symlink to a planted chunk
    b1 = _image_dir(stack, z5.images["A1"][0])
    planted5 = _planted_copy(b1 / "0", outside / "arr5")
    (b1 / "0/c/0/0/0/0/0").unlink()
    os.symlink(planted5 / "c/0/0/0/0/0", b1 / "0/c/0/0/0/0/0")
    # NGFF 0.4, well B2: a corrupt chunk; pyramid, well B1: a corrupt JPEG-2000 tile
    (_image_dir(stack, z4.images["B2"][0]) / "0/0.0.0.0.0").write_bytes(b"\x01corrupt" * 9)
    _, pyramid = platform.reader.source(platform.catalog.pixels(pyr.images["B1"][0]))
    with tifffile.TiffFile(pyramid) as tf:
        offset = tf.pages[0].dataoffsets[0]  # type: ignore[union-attr]
    with pyramid.open("r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xde\xad\xbe\xef" * 8)
    # OME-TIFF: image 0's planes are named in a file outside the repository
    _, ome_file = platform.reader.source(platform.catalog.pixels(ome.images["A1"][0]))
    pristine = outside / "pristine.ome.tiff"
    shutil.copy(ome_file, pristine)
    tifffile.imwrite(outside / "planted.tif", np.full((2, 128, 128), PLANTED, np.uint16),
                     photometric="minisblack", metadata=None)
    with tifffile.TiffFile(ome_file) as tf:
        xml = tf.ome_metadata
    assert xml
    evil, n = re.subn(r'<TiffData IFD="0" PlaneCount="2"\s*/>',
                      f'<TiffData IFD="0" PlaneCount="2"><UUID FileName="{outside}/planted.tif">'
                      "urn:uuid:00000000-0000-0000-0000-000000004242</UUID></TiffData>", xml,
                      count=1)
    assert n == 1
    tifffile.tiffcomment(ome_file, comment=evil)

    instrument = tmp_path / "instrument"
    stack.env["OMERO_INPLACE_ROOTS"] = str(instrument)
    stack.start_worker()
    ids = {name: _submit(stack, plates[name].id) for name in
           ("zarr plate", "zarr 0.5 plate", "ometiff plate", "pyramid plate")}
    _wait(stack, list(ids.values()))
    expect = {"zarr plate": {"A1": "refused", "B2": "does not decode"},
              "zarr 0.5 plate": {"A1": "refused"},
              "ometiff plate": {w: "refused" for w in ome.wells},
              "pyramid plate": {"B1": "does not decode"}}
    for name, run_id in ids.items():
        wells = _wells(stack, run_id)
        failed = {w: e for w, (status, e, _) in wells.items() if status == "failed"}
        assert failed.keys() == expect[name].keys(), (name, wells)
        for label, needle in expect[name].items():
            assert needle in (failed[label] or ""), (name, label, failed[label])
            assert wells[label][2] == 1, (name, label, "retried a permanent error")
        assert {s for w, (s, _, _) in wells.items() if w not in failed} <= {"succeeded"}
        assert PLANTED not in _values(stack, run_id), name  # never read, never measured
        view = runs.status(platform, run_id)
        assert view.status == ("failed" if name == "ometiff plate" else "partial"), name
    logs = _worker_logs(stack)
    for image in (z4.images["A1"][0], z5.images["A1"][0], ome.images["A1"][0]):
        assert f"image {image}: refused to read" in logs, image

    # In-place import: the pristine OME-TIFF on instrument storage, a link in its place
    (instrument / "run-7").mkdir(parents=True)
    moved = instrument / "run-7" / ome_file.name
    shutil.copy(pristine, moved)
    ome_file.unlink()
    os.symlink(moved, ome_file)
    inplace = _submit(stack, ome.id, "nuclei-count")
    _wait(stack, [inplace])
    assert runs.status(platform, inplace).status == "succeeded"
    _, rows = runs.results(platform, inplace)
    assert len(rows) == len(ome.wells) * ome.fields
    for row in rows:
        assert row["count"] == ome.count(row["well"], int(row["field"]))
    # the same link leading anywhere but an allowed root is refused
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(moved, elsewhere / ome_file.name)
    ome_file.unlink()
    os.symlink(elsewhere / ome_file.name, ome_file)
    refused = _submit(stack, ome.id, "nuclei-count")
    _wait(stack, [refused])
    assert runs.status(platform, refused).status == "failed"
    assert all("outside the allowed roots" in (e or "")
               for _, e, _ in _wells(stack, refused).values())
