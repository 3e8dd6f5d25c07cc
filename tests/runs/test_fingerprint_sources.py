"""Input fingerprints cover the files each source reads: ROMIO as before, OME-Zarr arrays
(metadata and level-0 chunks), pyramids and original files."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from platequeue.demo import FixtureBuilder, PlateTruth
from platequeue.omero import (
    AllowedRoots,
    OmeroCatalog,
    RepositoryReader,
    repository_roots,
    romio_path,
)
from platequeue.runs import incremental

PARAMS = {"sigma": 2.0}


@pytest.fixture
def plates(tmp_path: Path) -> Iterator[tuple[Path, OmeroCatalog, RepositoryReader,
                                             dict[str, PlateTruth]]]:
    data = tmp_path / "OMERO"
    eng = create_engine(f"sqlite:///{tmp_path / 'omero.db'}")
    b = FixtureBuilder(eng, data, seed=1)
    b.bootstrap()
    g = b.add_group("lab")
    u = b.add_user("u", groups=(g,))
    made = {k: b.add_plate(k, owner=u, group=g, wells=[(0, 0), (0, 1)], fields=2, size=64,
                           count_range=(1, 3), backend=k, rng_key=0)
            for k in ("romio", "zarr", "zarr-0.5", "pyramid", "ometiff")}
    reader = RepositoryReader(data, repository_roots(eng), roots=AllowedRoots(data))
    yield data, OmeroCatalog(eng), reader, made
    eng.dispose()


def _fps(cat: OmeroCatalog, reader: RepositoryReader, plate: PlateTruth) -> dict[int, str]:
    wells = cat.wells(plate.id)
    pixels = cat.pixels_many([f.image_id for w in wells for f in w.fields])
    return incremental.well_fingerprints(reader, pixels, wells, "hash", PARAMS)


def _touch(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_romio_fingerprint_keeps_its_original_form(plates: tuple) -> None:  # type: ignore[type-arg]
    data, cat, reader, made = plates
    well = cat.wells(made["romio"].id)[0]
    files = []
    for f in sorted(well.fields, key=lambda f: f.pixels_id):
        st = romio_path(data, f.pixels_id).stat()
        files.append([f.pixels_id, st.st_size, st.st_mtime_ns])
    blob = json.dumps({"pixels": files, "pipeline": "hash", "params": PARAMS},
                      sort_keys=True, separators=(",", ":"))
    infos = cat.pixels_many([f.image_id for f in well.fields]).values()
    want = hashlib.sha256(blob.encode()).hexdigest()
    assert incremental.fingerprint(reader, infos, "hash", PARAMS) == want


@pytest.mark.parametrize(("backend", "chunk"), [("zarr", "0.0.0.0.0"),
                                                ("zarr-0.5", "c/0/0/0/0/0")])
def test_ngff_fingerprint_covers_the_level0_array(plates: tuple,  # type: ignore[type-arg]
                                                  backend: str, chunk: str) -> None:
    data, cat, reader, made = plates
    plate = made[backend]
    before = _fps(cat, reader, plate)
    assert len(before) == 2 and len(set(before.values())) == 2
    assert _fps(cat, reader, plate) == before  # stable
    first = cat.wells(plate.id)[0]
    image_dir = data / cat.pixels(first.fields[0].image_id).ngff_path  # type: ignore[operator]
    level1 = next(p for p in (image_dir / "1").rglob("*") if p.is_file()
                  and p.name not in (".zarray", ".zattrs", "zarr.json"))
    _touch(level1)  # a level the platform never reads
    assert _fps(cat, reader, plate) == before
    _touch(image_dir / "0" / chunk)  # a chunk of level 0: that well is computed again
    after = _fps(cat, reader, plate)
    assert after[first.id] != before[first.id]
    assert {k: v for k, v in after.items() if k != first.id} == \
        {k: v for k, v in before.items() if k != first.id}
    meta = image_dir / "0" / ("zarr.json" if backend == "zarr-0.5" else ".zarray")
    _touch(meta)
    assert _fps(cat, reader, plate)[first.id] not in (before[first.id], after[first.id])
    (image_dir / "0" / chunk).unlink()  # a missing chunk: a changed input, never stale
    assert _fps(cat, reader, plate)[first.id] not in (before[first.id], after[first.id])


@pytest.mark.parametrize("backend", ["pyramid", "ometiff"])
def test_file_sources_fingerprint_their_file(plates: tuple,  # type: ignore[type-arg]
                                             backend: str) -> None:
    _data, cat, reader, made = plates
    plate = made[backend]
    before = _fps(cat, reader, plate)
    assert len(before) == 2
    first = cat.wells(plate.id)[0]
    _, path = reader.source(cat.pixels(first.fields[0].image_id))
    _touch(path)
    assert _fps(cat, reader, plate)[first.id] != before[first.id]
    path.unlink()
    assert first.id not in _fps(cat, reader, plate)  # no file: no fingerprint, never skipped
