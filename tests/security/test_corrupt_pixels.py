"""A corrupt compressed chunk is permanent: the well fails at once instead of being retried
(each retry would read the same bytes and burn a worker slot for nothing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from platequeue.omero import AllowedRoots, CorruptPixelsError, PixelsInfo
from platequeue.omero._ngff import read as ngff_read
from platequeue.runs._wellwork import PERMANENT


def _ngff_read(path: Path, t: int) -> np.ndarray:
    info = PixelsInfo(id=1, image_id=1, image_name="i", size_x=64, size_y=64, size_z=1,
                      size_c=2, size_t=1, pixels_type="uint16", dimension_order="XYZCT",
                      path=None, name=None, repo=None, series=0, fileset_id=None,
                      ngff_path=path.name)
    return ngff_read(path, AllowedRoots(path.parent), info, t)


def _ngff(path: Path) -> None:
    root = zarr.open_group(path, mode="w")
    root.attrs["multiscales"] = [{"axes": [{"name": a} for a in "tczyx"],
                                  "datasets": [{"path": "0"}]}]
    arr = root.create_array("0", shape=(1, 2, 1, 64, 64), chunks=(1, 1, 1, 32, 32),
                            dtype="u2")
    arr[:] = np.arange(2 * 64 * 64, dtype="u2").reshape(1, 2, 1, 64, 64)


def test_corrupt_chunk_retried_as_transient(tmp_path: Path) -> None:
    path = tmp_path / "image.zarr"
    _ngff(path)
    assert _ngff_read(path, 0).shape == (2, 1, 64, 64)  # intact: reads
    chunk = next(p for p in (path / "0").rglob("*") if p.is_file() and p.name[0].isdigit())
    chunk.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CorruptPixelsError, match="does not decode") as info:
        _ngff_read(path, 0)
    assert isinstance(info.value, PERMANENT)  # the well command fails it, no retry
