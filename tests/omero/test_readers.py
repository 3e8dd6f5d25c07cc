from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from platequeue.demo import DemoManifest, FixtureBuilder, build_full, reference_count
from platequeue.omero import (
    OmeroCatalog,
    PixelsFileError,
    RepositoryReader,
    Source,
    UnsafePathError,
    open_field,
    repository_roots,
)

BACKENDS = {"romio": Source.ROMIO, "pyramid": Source.PYRAMID, "ometiff": Source.ORIGINAL,
            "zarr": Source.NGFF, "zarr-0.5": Source.NGFF}
PYRAMID_TYPES = ("uint8", "uint16")  # OMERO pyramids (JPEG-2000) hold nothing else


@pytest.mark.parametrize("ptype", ["uint16", "float", "uint8"])
def test_same_pixels_read_identically_from_every_source(engine: Engine, tmp_path: Path,
                                                        ptype: str) -> None:
    b = FixtureBuilder(engine, tmp_path, seed=5)
    b.bootstrap()
    g = b.add_group("lab", "read-only")
    u = b.add_user("u", groups=(g,))
    plates = {k: b.add_plate(k, owner=u, group=g, wells=[(0, 0), (1, 2)], fields=2, size=96,
                             count_range=(1, 4), backend=k, pixels_type=ptype, rng_key=0)
              for k in BACKENDS if k != "pyramid" or ptype in PYRAMID_TYPES}
    cat = OmeroCatalog(engine)
    reader = RepositoryReader(tmp_path, repository_roots(engine))
    ref: dict[tuple[str, int], np.ndarray] = {}
    for backend, truth in plates.items():
        for w in cat.wells(truth.id):
            for f in w.fields:
                info = cat.pixels(f.image_id)
                assert reader.source(info)[0] is BACKENDS[backend]
                field = reader.open_field(info)
                assert field.shape == (2, 1, 96, 96)
                native = field.astype(field.dtype.newbyteorder("="))
                key = (w.label, f.field)
                if key in ref:
                    np.testing.assert_array_equal(native, ref[key])
                else:
                    ref[key] = native
                for c in range(2):
                    np.testing.assert_array_equal(reader.read_plane(info, c=c), native[c, 0])
                assert reference_count(native[0, 0]) == truth.count(w.label, f.field)
    assert len(ref) == 4


def test_source_errors(engine: Engine, tmp_path: Path) -> None:
    b = FixtureBuilder(engine, tmp_path)
    b.bootstrap()
    g = b.add_group("lab")
    u = b.add_user("u", groups=(g,))
    t = b.add_plate("p", owner=u, group=g, wells=[(0, 0)], fields=1, size=96, count_range=(1, 2),
                    backend="ometiff")
    info = OmeroCatalog(engine).pixels(t.images["A1"][0])
    with pytest.raises(PixelsFileError, match="unknown repository"):
        RepositoryReader(tmp_path, {}).open_field(info)
    roots = repository_roots(engine)
    assert list(roots.values()) == ["ManagedRepository"]
    evil = info.__class__(**{**_fields(info), "path": "../../", "name": "etc/passwd"})
    with pytest.raises(UnsafePathError):
        RepositoryReader(tmp_path, roots).open_field(evil)
    evil_zarr = info.__class__(**{**_fields(info), "ngff_path": "/etc"})
    with pytest.raises(UnsafePathError):
        RepositoryReader(tmp_path, roots).open_field(evil_zarr)
    gone = info.__class__(**{**_fields(info), "path": None})
    with pytest.raises(PixelsFileError, match="no pixels"):
        open_field(tmp_path, gone, repo_roots=roots)
    with pytest.raises(ValueError, match="t=3"):
        open_field(tmp_path, info, t=3, repo_roots=roots)


def _fields(info: object) -> dict[str, object]:
    return {k: getattr(info, k) for k in info.__slots__}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoManifest, Engine]]:
    d = tmp_path_factory.mktemp("full")
    m = build_full(f"sqlite:///{d / 'omero.db'}", d)
    eng = create_engine(m.db_url or "")
    yield m, eng
    eng.dispose()


def test_full_fixture_plates(full: tuple[DemoManifest, Engine]) -> None:
    m, eng = full
    cat = OmeroCatalog(eng)
    by_name = {p.name: p for p in m.plates}
    gaps = by_name["384 plate with gaps"]
    info = cat.plate(gaps.id)
    assert info is not None
    assert (info.rows, info.columns, info.fields) == (16, 24, 3)
    assert info.wells == len(gaps.wells) < 384
    wells = cat.wells(gaps.id)
    assert {f.acquisition_id for w in wells for f in w.fields} == set(gaps.acquisitions)
    assert len(gaps.acquisitions) == 3
    assert wells[-1].label == "P24"
    reader = RepositoryReader(m.data_dir, repository_roots(eng))
    for name in ("Float plate", "ometiff plate", "pyramid plate", "zarr plate",
                 "zarr 0.5 plate"):
        truth = by_name[name]
        for w in cat.wells(truth.id):
            for f in w.fields:
                field = reader.open_field(cat.pixels(f.image_id))
                assert reference_count(np.asarray(field[0, 0], dtype=np.float32)) == \
                    truth.count(w.label, f.field)
    px = cat.pixels(by_name["Float plate"].images["A1"][0])
    assert px.pixels_type == "float"
