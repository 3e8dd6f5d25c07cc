"""Containment: every file a reader opens, at any depth, lies under the allowed roots.

Each attack plants a field of a known value (:data:`PLANTED`) outside the repository (or
outside the image's own zarr) and points a path stored inside an image file at it; the read
must be refused with :class:`OutsideRootsError`, logged with the image id, and the planted
value must never come back.  Each attack has a control: the same file placed where it is
allowed *is* read (so the attack really reaches the reader).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from platequeue.demo import FixtureBuilder
from platequeue.omero import (
    AllowedRoots,
    CorruptPixelsError,
    OmeroCatalog,
    OutsideRootsError,
    PixelsInfo,
    RepositoryReader,
    Source,
    repository_roots,
)

PLANTED = 4242
SIZE = 64
SHAPE = (1, 2, 1, SIZE, SIZE)  # (T, C, Z, Y, X), as the fixture writes level 0


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[Path, Engine, dict[str, PixelsInfo]]]:
    """A data dir with one small plate per source kind; first image's pixels by backend."""
    data = tmp_path / "OMERO"
    eng = create_engine(f"sqlite:///{tmp_path / 'omero.db'}")
    b = FixtureBuilder(eng, data, seed=3)
    b.bootstrap()
    g = b.add_group("lab", "read-only")
    u = b.add_user("u", groups=(g,))
    cat = OmeroCatalog(eng)
    infos = {}
    for backend in ("zarr", "zarr-0.5", "ometiff", "pyramid", "romio"):
        t = b.add_plate(backend, owner=u, group=g, wells=[(0, 0), (0, 1)], fields=1,
                        size=SIZE, count_range=(1, 3), backend=backend, rng_key=0)
        infos[backend] = cat.pixels(t.images["A1"][0])
        infos[backend + "/A2"] = cat.pixels(t.images["A2"][0])
    yield data, eng, infos
    eng.dispose()


def _reader(data: Path, eng: Engine, *extra: Path) -> RepositoryReader:
    return RepositoryReader(data, repository_roots(eng), roots=AllowedRoots(data, extra=extra))


def _planted_zarr(folder: Path, like: Path) -> Path:
    """A copy of the level-0 array at *like* (same format and codecs), full of PLANTED."""
    shutil.copytree(like, folder)
    arr = zarr.open_array(folder, mode="r+")
    assert arr.shape == SHAPE
    arr[...] = PLANTED
    return folder


def _image_dir(data: Path, info: PixelsInfo) -> Path:
    assert info.ngff_path
    return data / info.ngff_path


def _set_dataset_path(image_dir: Path, value: str) -> None:
    meta = image_dir / ("zarr.json" if (image_dir / "zarr.json").exists() else ".zattrs")
    doc = json.loads(meta.read_text())
    attrs = doc["attributes"]["ome"] if meta.name == "zarr.json" else doc
    attrs["multiscales"][0]["datasets"][0]["path"] = value
    meta.write_text(json.dumps(doc))


def _assert_refused(reader: RepositoryReader, info: PixelsInfo, caplog: pytest.LogCaptureFixture,
                    match: str) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="platequeue.omero._roots"), \
            pytest.raises(OutsideRootsError, match=match):
        reader.open_field(info)
    assert any(f"image {info.image_id}: refused" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("backend", ["zarr", "zarr-0.5"])
def test_ngff_dataset_path_outside_the_image_is_refused(
        repo: tuple[Path, Engine, dict[str, PixelsInfo]], tmp_path: Path, backend: str,
        caplog: pytest.LogCaptureFixture) -> None:
    data, eng, infos = repo
    info = infos[backend]
    image_dir = _image_dir(data, info)
    planted = _planted_zarr(tmp_path / "outside" / "arr", image_dir / "0")
    reader = _reader(data, eng)
    # control: the planted array inside the image, under a plain dataset path, is read
    shutil.copytree(planted, image_dir / "planted")
    _set_dataset_path(image_dir, "planted")
    assert int(reader.open_field(info).max()) == PLANTED == int(reader.open_field(info).min())

    depth = len(image_dir.relative_to(tmp_path).parts)
    for evil in ("../" * depth + "outside/arr", str(planted), "planted/../../../0"):
        _set_dataset_path(image_dir, evil)
        _assert_refused(reader, info, caplog, "absolute, '..'")
    # a dataset folder that is a symlink leading out of the image (even into the data dir)
    os.symlink(planted, image_dir / "linked")
    _set_dataset_path(image_dir, "linked")
    _assert_refused(reader, info, caplog, "outside")
    other = _image_dir(data, infos[backend + "/A2"]) / "0"
    (image_dir / "linked").unlink()
    os.symlink(other, image_dir / "linked")
    _assert_refused(reader, info, caplog, "outside")


@pytest.mark.parametrize("backend", ["zarr", "zarr-0.5"])
def test_zarr_chunk_symlinked_out_of_the_image_is_refused(
        repo: tuple[Path, Engine, dict[str, PixelsInfo]], tmp_path: Path, backend: str,
        caplog: pytest.LogCaptureFixture) -> None:
    data, eng, infos = repo
    info = infos[backend]
    fmt = 3 if backend == "zarr-0.5" else 2
    key = "c/0/0/0/0/0" if fmt == 3 else "0.0.0.0.0"
    planted = _planted_zarr(tmp_path / "outside" / "arr", _image_dir(data, info) / "0")
    chunk = _image_dir(data, info) / "0" / key
    reader = _reader(data, eng)
    original = reader.open_field(info)
    assert int(original[0].max()) != PLANTED
    # control: the planted chunk copied in place is read
    saved = chunk.read_bytes()
    shutil.copy(planted / key, chunk)
    assert int(reader.open_field(info)[0].min()) == PLANTED
    chunk.write_bytes(saved)

    chunk.unlink()
    os.symlink(planted / key, chunk)  # out of the repository
    _assert_refused(reader, info, caplog, "outside")
    chunk.unlink()
    neighbour = _image_dir(data, infos[backend + "/A2"]) / "0" / key
    os.symlink(neighbour, chunk)  # inside the data dir, but another image's pixels
    _assert_refused(reader, info, caplog, "outside")
    with pytest.raises(OutsideRootsError):
        reader.read_plane(info, c=0)


def _ome_xml(target: str, n_planes: int) -> str:
    planes = "".join(
        f'<TiffData FirstC="{c}" FirstZ="0" FirstT="0" IFD="{c}" PlaneCount="1">'
        f'<UUID FileName="{target}">urn:uuid:{uuid.UUID(int=7)}</UUID></TiffData>'
        for c in range(n_planes))
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" '
            f'UUID="urn:uuid:{uuid.UUID(int=1)}">'
            '<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" '
            f'SizeX="{SIZE}" SizeY="{SIZE}" SizeZ="1" SizeC="{n_planes}" SizeT="1" '
            'BigEndian="false">'
            + "".join(f'<Channel ID="Channel:0:{c}" SamplesPerPixel="1"/>'
                      for c in range(n_planes))
            + planes + "</Pixels></Image></OME>")


def test_ome_tiff_file_reference_outside_the_roots_is_refused(
        repo: tuple[Path, Engine, dict[str, PixelsInfo]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    data, eng, infos = repo
    info = infos["ometiff"]
    reader = _reader(data, eng)
    kind, main = reader.source(info)
    assert kind is Source.ORIGINAL
    planted = np.full((2, SIZE, SIZE), PLANTED, dtype=np.uint16)
    outside = tmp_path / "outside" / "planted.tif"
    outside.parent.mkdir()
    tifffile.imwrite(outside, planted, photometric="minisblack", metadata=None)
    # the series in ManagedRepository: zeros of its own, planes taken from the named file
    zeros = np.zeros((2, SIZE, SIZE), np.uint16)
    info = PixelsInfo(**{**{k: getattr(info, k) for k in info.__slots__}, "series": 0})

    def write_main(target: str) -> None:
        tifffile.imwrite(main, zeros, photometric="minisblack", metadata=None,
                         description=_ome_xml(target, 2))

    shutil.copy(outside, main.parent / "sibling.tif")  # control: an allowed sibling is read
    write_main("sibling.tif")
    assert int(reader.open_field(info).min()) == PLANTED
    depth = len(main.parent.relative_to(tmp_path).parts)
    for evil in ("../" * depth + "outside/planted.tif", str(outside)):
        write_main(evil)
        _assert_refused(reader, info, caplog, "absolute, '..'")
    (main.parent / "sibling.tif").unlink()
    os.symlink(outside, main.parent / "sibling.tif")  # a sibling that is a link out
    write_main("sibling.tif")
    _assert_refused(reader, info, caplog, "outside the allowed roots")
    # allowed as an in-place root, the same link is read
    assert int(_reader(data, eng, outside.parent).open_field(info).min()) == PLANTED


def test_inplace_symlink_into_an_allowed_root_is_read(
        repo: tuple[Path, Engine, dict[str, PixelsInfo]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """``omero import --transfer=ln_s``: ManagedRepository holds a link to instrument
    storage; read when that storage is an allowed root, refused (and logged) otherwise."""
    data, eng, infos = repo
    info = infos["ometiff"]
    before = _reader(data, eng).open_field(info)
    _, managed = _reader(data, eng).source(info)
    instrument = tmp_path / "instrument" / "run-1"
    instrument.mkdir(parents=True)
    shutil.move(managed, instrument / managed.name)
    os.symlink(instrument / managed.name, managed)
    inplace = _reader(data, eng, tmp_path / "instrument")
    kind, path = inplace.source(info)
    assert (kind, path) == (Source.ORIGINAL, instrument / managed.name)
    np.testing.assert_array_equal(inplace.open_field(info), before)
    _assert_refused(_reader(data, eng), info, caplog, "outside the allowed roots")
    # a link elsewhere from the same repository is still refused with the root allowed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(instrument / managed.name, elsewhere / managed.name)
    managed.unlink()
    os.symlink(elsewhere / managed.name, managed)
    _assert_refused(inplace, info, caplog, "outside the allowed roots")


def test_romio_and_pyramid_links_follow_the_same_rule(
        repo: tuple[Path, Engine, dict[str, PixelsInfo]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    data, eng, infos = repo
    for backend in ("romio", "pyramid"):
        info = infos[backend]
        _, path = _reader(data, eng).source(info)
        before = _reader(data, eng).open_field(info)
        moved = tmp_path / "instrument" / backend / path.name
        moved.parent.mkdir(parents=True)
        shutil.move(path, moved)
        os.symlink(moved, path)
        _assert_refused(_reader(data, eng), info, caplog, "outside the allowed roots")
        after = _reader(data, eng, tmp_path / "instrument").open_field(info)
        np.testing.assert_array_equal(after.astype(before.dtype.newbyteorder("=")), before)


def test_corrupt_chunks_and_tiles_are_permanent_decode_errors(
        repo: tuple[Path, Engine, dict[str, PixelsInfo]]) -> None:
    data, eng, infos = repo
    reader = _reader(data, eng)
    for backend, key in (("zarr", "0/0.0.0.0.0"), ("zarr-0.5", "0/c/0/0/0/0/0")):
        chunk = _image_dir(data, infos[backend]) / key
        chunk.write_bytes(b"\x00garbage" * 7)
        with pytest.raises(CorruptPixelsError, match="does not decode"):
            reader.open_field(infos[backend])
    _, pyramid = reader.source(infos["pyramid"])
    with tifffile.TiffFile(pyramid) as tf:
        offset = tf.pages[0].dataoffsets[0]  # type: ignore[union-attr]
    with pyramid.open("r+b") as fh:  # clobber the first tile's JPEG-2000 header
        fh.seek(offset)
        fh.write(b"\xde\xad\xbe\xef" * 8)
    with pytest.raises(CorruptPixelsError, match="does not decode"):
        reader.open_field(infos["pyramid"])
    # a ValueError: the worker fails the well at once instead of retrying
    assert issubclass(CorruptPixelsError, ValueError)


def test_inplace_folder_swapped_for_a_link_after_a_read_is_refused(
        repo: tuple[Path, Engine, dict[str, PixelsInfo]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """Folders on in-place storage are resolved on every read, never remembered: storage
    the facility does not control may be changed between two reads of one process."""
    data, eng, infos = repo
    info = infos["zarr"]
    plate = data / Path(info.ngff_path or "").parents[2]  # ngff/plate_N.zarr
    stored = tmp_path / "instrument" / "plate.zarr"
    stored.parent.mkdir()
    shutil.move(plate, stored)
    os.symlink(stored, plate)
    reader = _reader(data, eng, tmp_path / "instrument")
    before = reader.open_field(info)
    assert reader.source(info)[1].is_relative_to(stored)
    elsewhere = tmp_path / "elsewhere" / "plate.zarr"
    shutil.copytree(stored, elsewhere)
    shutil.rmtree(stored)
    os.symlink(elsewhere, stored)  # same bytes, now outside every allowed root
    _assert_refused(reader, info, caplog, "outside the allowed roots")
    np.testing.assert_array_equal(_reader(data, eng, elsewhere.parent).open_field(info), before)
