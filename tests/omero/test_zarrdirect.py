"""OME-Zarr direct chunk reads (:mod:`platequeue.omero._zarrdirect`) against zarr-python.

Every layout is written with zarr-python itself; the direct path must give exactly the
pixels zarr-python gives (and native-endian), and must hand every layout it does not
handle back to zarr-python (``read_level`` returns ``None``) rather than misread it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs as zc

from platequeue.omero import (
    AllowedRoots,
    CorruptPixelsError,
    OutsideRootsError,
    PixelsFileError,
    PixelsInfo,
)
from platequeue.omero import _ngff as ngff
from platequeue.omero import _zarrdirect as direct

T, C, Z, Y, X = 2, 3, 2, 20, 24


def _info(**over: Any) -> PixelsInfo:
    base = PixelsInfo(id=7, image_id=70, image_name="f", size_x=X, size_y=Y, size_z=Z,
                      size_c=C, size_t=T, pixels_type="uint16", dimension_order="XYZCT",
                      path=None, name=None, repo=None, series=0, fileset_id=None,
                      ngff_path=None)
    return replace(base, **over)


def _data(dtype: str, axes: str = "tczyx") -> np.ndarray:
    sizes = {"t": T, "c": C, "z": Z, "y": Y, "x": X}
    rng = np.random.default_rng(5)
    return (rng.random([sizes[a] for a in axes]) * 200 + 1).astype(dtype)


def _image(folder: Path, fmt: int, data: np.ndarray, axes: str = "tczyx",
           chunks: tuple[int, ...] | None = None, **create: Any) -> Path:
    """An NGFF image (0.4 on zarr v2, 0.5 on v3) whose level 0 holds *data*."""
    img = zarr.open_group(folder, mode="w", zarr_format=fmt)
    if chunks is None:
        chunks = (1,) * (data.ndim - 2) + data.shape[-2:]
    arr = img.create_array("0", shape=data.shape, chunks=chunks, dtype=data.dtype, **create)
    arr[...] = data
    ms = {"axes": [{"name": a} for a in axes], "datasets": [{"path": "0"}]}
    if fmt == 3:
        img.attrs["ome"] = {"version": "0.5", "multiscales": [ms]}
    else:
        img.attrs["multiscales"] = [{**ms, "version": "0.4"}]
    return folder


def _field(data: np.ndarray, axes: str, t: int) -> np.ndarray:
    """The (C, Z, Y, X) field of timepoint *t* of *data* laid out along *axes*."""
    if "t" in axes:
        data = data[t]
    kept = axes.replace("t", "")
    for ax in ("c", "z"):
        if ax not in kept:
            data, kept = data[np.newaxis], ax + kept
    return np.transpose(data, [kept.index(a) for a in "czyx"])


def _both(folder: Path, info: PixelsInfo, axes: str = "tczyx", **pick: int
          ) -> tuple[np.ndarray | None, np.ndarray]:
    """(direct read or None, zarr-python read) of the same pixels."""
    roots = AllowedRoots(folder.parent)
    path = Path(os.path.realpath(folder))
    fast = direct.read_level(path, roots, info, "0", list(axes), **pick)
    slow = ngff.read_zarr(path, roots, info, **pick)
    assert np.array_equal(ngff.read(path, roots, **{"info": info, **pick}),
                          slow)
    return fast, slow


HANDLED: dict[str, tuple[int, str, dict[str, Any]]] = {
    "v2 blosc >u2": (2, ">u2", {}),
    "v2 zstd <f4": (2, "<f4", {"compressors": numcodecs.Zstd(level=3)}),
    "v2 zlib >i4": (2, ">i4", {"compressors": numcodecs.Zlib()}),
    "v2 raw u1": (2, "u1", {"compressors": None}),
    "v2 '/' separator": (2, "<u2", {"chunk_key_encoding": {"name": "v2", "separator": "/"}}),
    "v3 zstd <u2": (3, "<u2", {}),
    "v3 gzip >f8": (3, ">f8", {"compressors": zc.GzipCodec(),
                               "serializer": zc.BytesCodec(endian="big")}),
    "v3 blosc <i2": (3, "<i2", {"compressors": zc.BloscCodec()}),
    "v3 raw u1": (3, "u1", {"compressors": None}),
    "v3 '.' separator": (3, "<u2", {"chunk_key_encoding": {"name": "default",
                                                           "separator": "."}}),
    "v3 v2 key encoding": (3, "<u2", {"chunk_key_encoding": {"name": "v2"}}),
}


@pytest.mark.parametrize("name", list(HANDLED))
def test_direct_reads_exactly_what_zarr_python_reads(tmp_path: Path, name: str) -> None:
    fmt, dtype, create = HANDLED[name]
    data = _data(dtype)
    folder = _image(tmp_path / "img", fmt, data, **create)
    info = _info()
    for t in range(T):
        fast, slow = _both(folder, info, t=t)
        assert fast is not None, "the layout should be read directly"
        assert fast.dtype.isnative and fast.dtype == np.dtype(dtype).newbyteorder("=")
        np.testing.assert_array_equal(fast, slow)
        np.testing.assert_array_equal(fast, _field(data, "tczyx", t))
        plane, slow_plane = _both(folder, info, t=t, c=2, z=1)
        assert plane is not None and plane.shape == (Y, X)
        np.testing.assert_array_equal(plane, slow_plane)
        np.testing.assert_array_equal(plane, data[t, 2, 1])


@pytest.mark.parametrize("axes", ["czyx", "tzyx", "zyx", "yx", "tcyx"])
def test_direct_reads_fewer_axes(tmp_path: Path, axes: str) -> None:
    data = _data("<u2", axes)
    folder = _image(tmp_path / "img", 2, data, axes)
    info = _info(size_t=T if "t" in axes else 1, size_c=C if "c" in axes else 1,
                 size_z=Z if "z" in axes else 1)
    fast, slow = _both(folder, info, axes, t=0)
    assert fast is not None
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast, _field(data, axes, 0))


UNHANDLED: dict[str, tuple[int, dict[str, Any]]] = {
    "two channels per chunk": (2, {"chunks": (1, 2, 1, Y, X)}),
    "half planes": (3, {"chunks": (1, 1, 1, Y // 2, X)}),
    "v2 Fortran order": (2, {"order": "F"}),
    "v2 filters": (2, {"filters": [numcodecs.Delta(dtype="<u2")]}),
    "v3 sharding": (3, {"shards": (1, C, Z, Y, X)}),
    "v3 transpose": (3, {"filters": [zc.TransposeCodec(order=(0, 1, 2, 4, 3))]}),
    "v3 checksum": (3, {"compressors": [zc.ZstdCodec(), zc.Crc32cCodec()]}),
}


@pytest.mark.parametrize("name", list(UNHANDLED))
def test_other_layouts_fall_back_to_zarr_python(tmp_path: Path, name: str) -> None:
    fmt, create = UNHANDLED[name]
    data = _data("<u2")
    folder = _image(tmp_path / "img", fmt, data, **create)
    fast, slow = _both(folder, _info(), t=1)
    assert fast is None
    np.testing.assert_array_equal(slow, _field(data, "tczyx", 1))


def test_missing_chunk_falls_back_to_the_fill_value(tmp_path: Path) -> None:
    folder = _image(tmp_path / "img", 2, _data("<u2"))
    (folder / "0" / "1.2.1.0.0").unlink()
    fast, slow = _both(folder, _info(), t=1)
    assert fast is None
    assert not slow[2, 1].any() and slow[1, 1].all()


def test_shape_mismatch_is_reported_by_the_general_path(tmp_path: Path) -> None:
    folder = _image(tmp_path / "img", 3, _data("<u2"))
    roots = AllowedRoots(tmp_path)
    wrong = _info(size_x=X - 1)
    assert direct.read_level(folder, roots, wrong, "0", list("tczyx"), 0) is None
    with pytest.raises(PixelsFileError, match="level 0 gives shape"):
        ngff.read(folder, roots, wrong, 0)


def test_out_is_filled_on_both_paths(tmp_path: Path) -> None:
    data = _data(">u2")
    for fmt, create in ((2, {}), (2, {"order": "F"})):
        folder = _image(tmp_path / f"img{len(create)}", fmt, data, **create)
        out = np.zeros((C, Z, Y, X), np.uint16)
        got = ngff.read(folder, AllowedRoots(tmp_path), _info(), 1, out=out)
        assert got is out
        np.testing.assert_array_equal(out, data[1])
        with pytest.raises(ValueError, match="out must be"):
            ngff.read(folder, AllowedRoots(tmp_path), _info(), 1, out=out.astype(np.float32))


@pytest.mark.parametrize("fmt", [2, 3])
def test_bad_chunks_are_corrupt_on_the_direct_path(tmp_path: Path, fmt: int) -> None:
    folder = _image(tmp_path / "img", fmt, _data("<u2"))
    key = "c/0/1/0/0/0" if fmt == 3 else "0.1.0.0.0"
    roots = AllowedRoots(tmp_path)
    assert direct.read_level(folder, roots, _info(), "0", list("tczyx"), 0) is not None
    chunk = folder / "0" / key
    good = chunk.read_bytes()
    chunk.write_bytes(b"\x00garbage" * 7)
    with pytest.raises(CorruptPixelsError, match="does not decode"):
        direct.read_level(folder, roots, _info(), "0", list("tczyx"), 0)
    # a chunk that decodes, but to fewer bytes than a plane
    codec = numcodecs.Zstd() if fmt == 3 else numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1)
    chunk.write_bytes(codec.encode(np.zeros((Y, X - 1), np.uint16).tobytes()))
    with pytest.raises(CorruptPixelsError, match=r"holds \d+ bytes, one plane is"):
        ngff.read(folder, roots, _info(), 0)
    chunk.write_bytes(good)
    assert direct.read_level(folder, roots, _info(), "0", list("tczyx"), 0) is not None


@pytest.mark.parametrize("fmt", [2, 3])
def test_direct_path_checks_every_file_against_the_roots(
        tmp_path: Path, fmt: int, caplog: pytest.LogCaptureFixture) -> None:
    data = _data("<u2")
    folder = _image(tmp_path / "data" / "img", fmt, data)
    planted = _image(tmp_path / "outside" / "img", fmt, np.full_like(data, 4242))
    key = "c/0/1/0/0/0" if fmt == 3 else "0.1.0.0.0"
    roots = AllowedRoots(tmp_path / "data")
    (folder / "0" / key).unlink()
    os.symlink(planted / "0" / key, folder / "0" / key)
    caplog.set_level(logging.WARNING, logger="platequeue.omero._roots")
    with pytest.raises(OutsideRootsError, match="outside"):
        direct.read_level(folder, roots, _info(), "0", list("tczyx"), 0)
    assert any("image 70: refused" in r.getMessage() for r in caplog.records)
    # a chunk linked to another file inside the same image is read (containment, not links)
    (folder / "0" / key).unlink()
    other = "c/0/2/0/0/0" if fmt == 3 else "0.2.0.0.0"
    os.symlink(folder / "0" / other, folder / "0" / key)
    got = direct.read_level(folder, roots, _info(), "0", list("tczyx"), 0)
    assert got is not None
    np.testing.assert_array_equal(got[1, 0], data[0, 2, 0])
    # metadata linked out of the image is refused too, before it is parsed
    meta = folder / ("zarr.json" if fmt == 3 else ".zattrs")
    meta.unlink()
    os.symlink(planted / meta.name, meta)
    with pytest.raises(OutsideRootsError):
        ngff.read(folder, roots, _info(), 0)


def test_metadata_remembered_only_while_unchanged(tmp_path: Path) -> None:
    roots = AllowedRoots(tmp_path)
    folder = _image(tmp_path / "img", 2, _data(">u2"))
    first = ngff.read(folder, roots, _info(), 1)
    assert ngff.read(folder, roots, _info(), 1) is not first  # read again, same pixels
    np.testing.assert_array_equal(ngff.read(folder, roots, _info(), 1), first)
    # the array rewritten in place (other dtype, codec and values): parsed again
    again = _data("<f4") * 3
    _image(folder, 2, again, compressors=numcodecs.Zstd())
    got = ngff.read(folder, roots, _info(pixels_type="float"), 1)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, again[1])
    # rewritten as a layout left to zarr-python: no longer read directly
    _image(folder, 2, again, order="F")
    assert direct.read_level(folder, roots, _info(), "0", list("tczyx"), 1) is None
    np.testing.assert_array_equal(ngff.read(folder, roots, _info(), 1), again[1])
