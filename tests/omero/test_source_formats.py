"""The fixture writes each source the way OMERO (and OME-Zarr writers) lay it out, and the
reader refuses metadata that does not match OMERO's pixels row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile
from sqlalchemy import create_engine

from platequeue.demo import FixtureBuilder, PlateTruth, formats
from platequeue.omero import PYRAMID_DESCRIPTION, OmeroCatalog, PixelsFileError, RepositoryReader


@pytest.fixture
def built(tmp_path: Path) -> Iterator[tuple[Path, OmeroCatalog, dict[str, PlateTruth]]]:
    eng = create_engine(f"sqlite:///{tmp_path / 'omero.db'}")
    b = FixtureBuilder(eng, tmp_path, seed=2)
    b.bootstrap()
    g = b.add_group("lab")
    u = b.add_user("u", groups=(g,))
    made = {k: b.add_plate(k, owner=u, group=g, wells=[(0, 0), (1, 2)], fields=2, size=96,
                           count_range=(1, 3), backend=k, rng_key=0)
            for k in ("pyramid", "zarr", "zarr-0.5")}
    yield tmp_path, OmeroCatalog(eng), made
    eng.dispose()


def _decomposition_levels(codestream: bytes) -> int:
    """Number of wavelet decomposition levels in a JPEG-2000 codestream's COD segment."""
    assert codestream[:2] == b"\xff\x4f"  # SOC: a raw codestream, as Bio-Formats writes
    i = codestream.index(b"\xff\x52")  # COD: Lcod(2) Scod(1) SGcod(4) then SPcod
    return codestream[i + 9]


def test_pyramid_is_omero_pyramid_format(built: tuple[Path, OmeroCatalog,
                                                      dict[str, PlateTruth]]) -> None:
    data, cat, made = built
    info = cat.pixels(made["pyramid"].images["A1"][0])
    reader = RepositoryReader(data)
    _, path = reader.source(info)
    assert path.name == f"{info.id}_pyramid"
    with tifffile.TiffFile(path) as tf:
        assert tf.is_bigtiff and tf.byteorder == ">"
        pages = list(tf.pages)
        assert len(pages) == info.size_t * info.size_c * info.size_z  # one IFD per plane
        for page in pages:
            assert isinstance(page, tifffile.TiffPage)
            assert page.compression == 33003 and page.is_tiled
            assert page.description == PYRAMID_DESCRIPTION
            assert page.shape == (info.size_y, info.size_x)
            assert page.tilewidth == page.tilelength == 128
            tf.filehandle.seek(page.dataoffsets[0])
            tile = tf.filehandle.read(page.databytecounts[0])
            assert _decomposition_levels(tile) == 4  # 5 resolutions in one stream
    # lossless: the same values as the twin NGFF plate (and ROMIO, tests/test_sources.py)
    twin = cat.pixels(made["zarr"].images["A1"][0])
    np.testing.assert_array_equal(reader.open_field(info),
                                  reader.open_field(twin).astype(np.uint16))


def test_pyramid_tiles_round_trip_and_only_integer_types(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for dtype in (np.uint8, np.uint16):
        data = rng.integers(0, np.iinfo(dtype).max, (2, 3, 2, 300, 200), dtype=dtype)
        formats.write_pyramid(tmp_path / "p", data, tile=128)
        with tifffile.TiffFile(tmp_path / "p") as tf:
            assert len(tf.pages) == 12 and len(tf.pages[0].dataoffsets) == 3 * 2  # type: ignore[union-attr]
            planes = [p.asarray() for p in tf.pages]  # type: ignore[union-attr]
        np.testing.assert_array_equal(np.stack(planes), data.reshape(12, 300, 200))
    with pytest.raises(ValueError, match="uint8 or uint16 only"):
        formats.write_pyramid(tmp_path / "p", np.zeros((1, 1, 1, 64, 64), np.float32))


def test_ngff_versions_are_laid_out_as_specified(built: tuple[Path, OmeroCatalog,
                                                              dict[str, PlateTruth]]) -> None:
    data, cat, made = built
    v4 = data / cat.pixels(made["zarr"].images["A1"][0]).ngff_path  # type: ignore[operator]
    v5 = data / cat.pixels(made["zarr-0.5"].images["A1"][0]).ngff_path  # type: ignore[operator]
    attrs4 = json.loads((v4 / ".zattrs").read_text())
    assert attrs4["multiscales"][0]["version"] == "0.4"
    assert json.loads((v4 / "0" / ".zarray").read_text())["zarr_format"] == 2
    doc5 = json.loads((v5 / "zarr.json").read_text())
    assert doc5["zarr_format"] == 3 and doc5["node_type"] == "group"
    ome = doc5["attributes"]["ome"]
    assert ome["version"] == "0.5" and "multiscales" not in doc5["attributes"]
    assert [d["path"] for d in ome["multiscales"][0]["datasets"]] == ["0", "1"]
    assert json.loads((v5 / "0" / "zarr.json").read_text())["zarr_format"] == 3
    plate5 = json.loads((v5.parents[2] / "zarr.json").read_text())["attributes"]["ome"]
    assert plate5["version"] == "0.5"
    assert [w["path"] for w in plate5["plate"]["wells"]] == ["A/1", "B/3"]
    well5 = json.loads((v5.parent / "zarr.json").read_text())["attributes"]["ome"]["well"]
    assert well5["images"] == [{"path": "0"}, {"path": "1"}]
    plate4 = json.loads((v4.parents[2] / ".zattrs").read_text())["plate"]
    assert plate4["version"] == "0.4" and plate4["field_count"] == 2


def test_ngff_metadata_must_match_omero(built: tuple[Path, OmeroCatalog,
                                                     dict[str, PlateTruth]]) -> None:
    data, cat, made = built
    reader = RepositoryReader(data)
    info = cat.pixels(made["zarr-0.5"].images["A1"][0])
    wrong = info.__class__(**{**{k: getattr(info, k) for k in info.__slots__}, "size_x": 95})
    with pytest.raises(PixelsFileError, match=r"level 0 gives shape \(2, 1, 96, 96\), "
                                              r"OMERO's pixels row says \(2, 1, 96, 95\)"):
        reader.open_field(wrong)
    meta = data / info.ngff_path / "zarr.json"  # type: ignore[operator]
    doc = json.loads(meta.read_text())
    doc["attributes"]["ome"].pop("multiscales")
    meta.write_text(json.dumps(doc))
    with pytest.raises(PixelsFileError, match="no NGFF multiscales metadata"):
        reader.open_field(info)
