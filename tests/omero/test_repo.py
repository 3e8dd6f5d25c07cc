from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from platequeue.demo import blank_romio_plane, write_romio
from platequeue.omero import (
    PixelsFileError,
    PixelsInfo,
    UnsafePathError,
    UnwrittenPlaneError,
    nested_relpath,
    pixel_dtype,
    read_field,
    read_field_native,
    read_plane,
    romio_relpath,
    safe_path,
)


@pytest.mark.parametrize(
    ("pid", "expected"),
    [
        (0, "Pixels/0"),
        (999, "Pixels/999"),
        (1000, "Pixels/Dir-001/1000"),
        (1999, "Pixels/Dir-001/1999"),
        (12345, "Pixels/Dir-012/12345"),
        (1234567, "Pixels/Dir-001/Dir-234/1234567"),
        (1000001, "Pixels/Dir-001/Dir-000/1000001"),
    ],
)
def test_romio_relpath(pid: int, expected: str) -> None:
    assert romio_relpath(pid) == expected


def test_nested_relpath_other_folders() -> None:
    assert nested_relpath("Files", 1000) == "Files/Dir-001/1000"
    assert nested_relpath("Thumbnails", 5) == "Thumbnails/5"
    with pytest.raises(ValueError, match="unknown"):
        nested_relpath("../etc", 5)
    with pytest.raises(ValueError, match="negative"):
        nested_relpath("Pixels", -1)


@pytest.mark.parametrize(
    ("ptype", "dtype"),
    [("int8", "i1"), ("uint8", "u1"), ("int16", ">i2"), ("uint16", ">u2"), ("int32", ">i4"),
     ("uint32", ">u4"), ("float", ">f4"), ("double", ">f8")],
)
def test_pixel_dtype(ptype: str, dtype: str) -> None:
    assert pixel_dtype(ptype) == np.dtype(dtype)


@pytest.mark.parametrize("ptype", ["bit", "complex", "double-complex", "uint64", ""])
def test_pixel_dtype_unsupported(ptype: str) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        pixel_dtype(ptype)


def test_safe_path_refuses_escapes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "repo"
    (root / "Pixels").mkdir(parents=True)
    outside = tmp_path / "secret"
    outside.write_text("x")
    (root / "Pixels" / "link").symlink_to(outside)
    assert safe_path(root, "Pixels/1") == (root / "Pixels/1").resolve()
    assert safe_path(root, str(root / "Pixels" / "1")) == (root / "Pixels/1").resolve()
    for bad in ["../secret", "Pixels/../../secret", str(outside), "/etc/passwd",
                "Pixels/link", "", "a\x00b"]:
        with pytest.raises(UnsafePathError):
            safe_path(root, bad)
    assert "refused repository path" in caplog.text


def _info(pid: int, *, ptype: str = "uint16", c: int = 2, z: int = 3, t: int = 2,
          y: int = 16, x: int = 24) -> PixelsInfo:
    return PixelsInfo(id=pid, image_id=pid + 7, image_name="img", size_x=x, size_y=y, size_z=z,
                      size_c=c, size_t=t, pixels_type=ptype, dimension_order="XYZCT",
                      path=None, name=None, repo=None, series=0, fileset_id=None,
                      ngff_path=None)


@pytest.mark.parametrize("ptype", ["int8", "uint8", "int16", "uint16", "int32", "uint32",
                                   "float", "double"])
def test_read_field_roundtrip_zero_copy(tmp_path: Path, ptype: str) -> None:
    info = _info(1234567, ptype=ptype)
    rng = np.random.default_rng(0)
    data = (rng.random((2, 2, 3, 16, 24)) * 100 + 1).astype(pixel_dtype(ptype).newbyteorder("="))
    path = write_romio(tmp_path, info.id, data, ptype)
    assert path == tmp_path / "Pixels/Dir-001/Dir-234/1234567"
    # on disk: big-endian XYZCT -> plane offset (t*C*Z + c*Z + z) * X*Y*bytes
    raw = path.read_bytes()
    item = pixel_dtype(ptype).itemsize
    off = (1 * 2 * 3 + 1 * 3 + 2) * 16 * 24 * item
    plane = np.frombuffer(raw[off : off + 16 * 24 * item], dtype=pixel_dtype(ptype))
    np.testing.assert_array_equal(plane.reshape(16, 24), data[1, 1, 2])
    field = read_field(tmp_path, info, t=1)
    assert field.shape == (2, 3, 16, 24)
    np.testing.assert_array_equal(field, data[1])
    assert isinstance(field, np.memmap)
    assert not field.flags.writeable
    np.testing.assert_array_equal(read_plane(tmp_path, info, z=2, c=1, t=1), data[1, 1, 2])


def test_unwritten_plane_is_reported(tmp_path: Path) -> None:
    info = _info(1000)
    data = np.ones((2, 2, 3, 16, 24), dtype=np.uint16)
    write_romio(tmp_path, info.id, data, "uint16")
    plane_bytes = 16 * 24 * 2
    blank_romio_plane(tmp_path, info.id, plane_index=1 * 6 + 0 * 3 + 1, plane_bytes=plane_bytes)
    read_field(tmp_path, info, t=0)  # other timepoint fine
    with pytest.raises(UnwrittenPlaneError, match=r"image 1007 .*z=1 c=0 t=1"):
        read_field(tmp_path, info, t=1)
    with pytest.raises(UnwrittenPlaneError, match=r"z=1 c=0 t=1 was never written"):
        read_plane(tmp_path, info, z=1, c=0, t=1)
    read_plane(tmp_path, info, z=2, c=0, t=1)


def test_missing_or_truncated_file(tmp_path: Path) -> None:
    info = _info(42)
    with pytest.raises(PixelsFileError, match="no ROMIO file"):
        read_field(tmp_path, info)
    write_romio(tmp_path, 42, np.ones((1, 1, 1, 4, 4), np.uint16), "uint16")
    with pytest.raises(PixelsFileError, match="bytes"):
        read_field(tmp_path, info)


def test_a_directory_in_place_of_the_file_is_an_io_error(tmp_path: Path) -> None:
    # a half-mounted share: an I/O error the well retries, not a permanent size mismatch
    info = _info(42)
    (tmp_path / "Pixels").mkdir()
    (tmp_path / "Pixels" / "42").mkdir()
    with pytest.raises(IsADirectoryError):
        read_field(tmp_path, info)
    with pytest.raises(IsADirectoryError):
        read_field_native(tmp_path, info)


def test_index_out_of_range(tmp_path: Path) -> None:
    info = _info(43, t=1)
    write_romio(tmp_path, 43, np.ones((1, 2, 3, 16, 24), np.uint16), "uint16")
    with pytest.raises(ValueError, match="t=1 out of range"):
        read_field(tmp_path, info, t=1)
    with pytest.raises(ValueError, match="c=5"):
        read_plane(tmp_path, info, c=5)


def test_symlinked_pixels_file_out_of_root_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    other = tmp_path / "elsewhere"
    write_romio(other, 44, np.ones((1, 2, 3, 16, 24), np.uint16), "uint16")
    (root / "Pixels").mkdir(parents=True)
    os.symlink(other / "Pixels" / "44", root / "Pixels" / "44")
    with pytest.raises(UnsafePathError):
        read_field(root, _info(44, t=1))


@pytest.mark.parametrize("ptype", ["uint8", "int16", "uint16", "float", "double"])
def test_read_field_native(tmp_path: Path, ptype: str) -> None:
    from platequeue.omero import read_field_native

    info = _info(2000, ptype=ptype)
    rng = np.random.default_rng(1)
    data = (rng.random((2, 2, 3, 16, 24)) * 100 + 1).astype(pixel_dtype(ptype).newbyteorder("="))
    write_romio(tmp_path, info.id, data, ptype)
    got = read_field_native(tmp_path, info, t=1)
    assert got.dtype.isnative and got.dtype == data.dtype
    np.testing.assert_array_equal(got, data[1])
    out = np.empty_like(data[0])
    assert read_field_native(tmp_path, info, t=0, out=out) is out
    np.testing.assert_array_equal(out, data[0])
    with pytest.raises(ValueError, match="out must be"):
        read_field_native(tmp_path, info, out=np.empty((1, 2), data.dtype))
    blank_romio_plane(tmp_path, info.id, plane_index=7, plane_bytes=16 * 24 * data.itemsize)
    with pytest.raises(UnwrittenPlaneError, match="z=1 c=0 t=1"):
        read_field_native(tmp_path, info, t=1)


@pytest.mark.parametrize("piece", [256, 1024, 4096, 1 << 19])
@pytest.mark.parametrize("ptype", ["uint8", "int16", "float", "double"])
def test_read_field_native_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     ptype: str, piece: int) -> None:
    """Big-endian fields are cast to native piece by piece (planes split, or grouped, at
    the piece size): the same pixels as the memory map, every plane's null check intact."""
    from platequeue.omero import _repo, read_field_native

    monkeypatch.setattr(_repo, "SWAP_PIECE", piece)
    info = _info(3000, ptype=ptype)
    rng = np.random.default_rng(2)
    data = (rng.random((2, 2, 3, 16, 24)) * 100 + 1).astype(pixel_dtype(ptype).newbyteorder("="))
    write_romio(tmp_path, info.id, data, ptype)
    for t in range(2):
        got = read_field_native(tmp_path, info, t=t)
        assert got.dtype.isnative
        np.testing.assert_array_equal(got, read_field(tmp_path, info, t=t))
        np.testing.assert_array_equal(got, data[t])
    plane_bytes = 16 * 24 * data.itemsize
    for index in range(6, 12):  # each plane of t=1, wherever it falls in the pieces
        write_romio(tmp_path, info.id, data, ptype)
        blank_romio_plane(tmp_path, info.id, plane_index=index, plane_bytes=plane_bytes)
        c, z = divmod(index - 6, 3)
        with pytest.raises(UnwrittenPlaneError, match=f"z={z} c={c} t=1"):
            read_field_native(tmp_path, info, t=1)
        read_field_native(tmp_path, info, t=0)
