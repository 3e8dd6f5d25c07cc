"""The Bio-Formats source on FS-imported fixture plates, in process (a real JVM, no workers).

Registration as OMERO's importer does it, pixels equal to the ROMIO twin for every pixel type,
the synthetic plate equal to a plain Bio-Formats read in another process, tiled reads, shape
mismatches, files escaping the allowed roots, and the one clear error without Java or the jar.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from platequeue.demo import FixtureBuilder, PlateTruth, add_fake_plate, reference_count
from platequeue.omero import (
    BioFormatsConfig,
    BioFormatsSource,
    OmeroCatalog,
    PixelsFileError,
    RepositoryReader,
    ShapeMismatch,
    Source,
    UnsafePathError,
    bf_available,
    repository_roots,
    scan,
)

pytestmark = pytest.mark.skipif(bf_available(BioFormatsConfig()) is not None,
                                reason="no Java runtime or Bio-Formats jar here")
PTYPES = ("uint16", "float", "uint8")


@dataclasses.dataclass
class Fs:
    root: Path
    engine: Engine
    plates: dict[str, PlateTruth]

    def reader(self, **kw: Any) -> RepositoryReader:
        return RepositoryReader(self.root, repository_roots(self.engine), **kw)


@pytest.fixture(scope="module")
def fs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fs]:
    root = tmp_path_factory.mktemp("fs")
    engine = create_engine(f"sqlite:///{root / 'omero.db'}")
    b = FixtureBuilder(engine, root / "OMERO", seed=3)
    b.bootstrap()
    g = b.add_group("lab", "read-only")
    u = b.add_user("u", groups=(g,))
    plates: dict[str, PlateTruth] = {}
    for key, ptype in enumerate(PTYPES):
        for backend in ("romio", "companion", "htd"):
            plates[f"{backend}-{ptype}"] = b.add_plate(
                f"{backend} {ptype}", owner=u, group=g, wells=[(0, 0), (1, 2)], fields=2,
                size=96, count_range=(1, 4), backend=backend, pixels_type=ptype, rng_key=key)
    plates["fake"] = add_fake_plate(b, "fake", owner=u, group=g, rows=2, columns=3, fields=2,
                                    size=64)
    yield Fs(root / "OMERO", engine, plates)
    engine.dispose()


def test_registered_as_omero_importer_does(fs: Fs) -> None:
    cat = OmeroCatalog(fs.engine)
    with fs.engine.connect() as conn:
        repo_row = conn.execute(text(
            "SELECT path, name, hash FROM originalfile WHERE mimetype = 'Repository'")).one()
        for key, n_files in (("companion-uint16", 5), ("htd-uint16", 9), ("fake", 1)):
            p = fs.plates[key]
            info = cat.pixels(p.images["A1"][0])
            assert info.repo == repo_row.hash and info.fileset_id is not None
            assert not info.path.endswith("/") and info.path.startswith("u_")  # type: ignore[union-attr]
            files = conn.execute(text(
                "SELECT o.path, o.name, o.size, e.fileset_index FROM filesetentry e JOIN "
                "originalfile o ON o.id = e.originalfile WHERE e.fileset = :f "
                "ORDER BY e.fileset_index"), {"f": info.fileset_id}).all()
            assert len(files) == n_files and files[0].name == info.name
            for f in files:
                on_disk = fs.root / repo_row.name / f.path / f.name
                assert on_disk.stat().st_size == f.size
    # The companion writes images in reverse well order: series come from its OME-XML.
    comp = fs.plates["companion-uint16"]
    series = [cat.pixels(i).series for label in ("A1", "B3") for i in comp.images[label]]
    assert series == [3, 2, 1, 0]
    htd = fs.plates["htd-uint16"]
    assert [cat.pixels(i).series for label in ("A1", "B3") for i in htd.images[label]] == [
        0, 1, 2, 3]


@pytest.mark.parametrize("ptype", PTYPES)
def test_fs_imports_equal_romio_twin(fs: Fs, ptype: str) -> None:
    cat = OmeroCatalog(fs.engine)
    reader = fs.reader()
    twin = fs.plates[f"romio-{ptype}"]
    for backend in ("companion", "htd"):
        truth = fs.plates[f"{backend}-{ptype}"]
        for label, images in truth.images.items():
            for f, iid in enumerate(images):
                info = cat.pixels(iid)
                assert reader.source(info)[0] is Source.BIOFORMATS
                field = reader.open_field(info)
                ref = reader.open_field(cat.pixels(twin.images[label][f]), native=True)
                assert field.shape == ref.shape and field.dtype == ref.dtype
                np.testing.assert_array_equal(field, ref)
                plane = reader.read_plane(info, c=1)
                np.testing.assert_array_equal(plane, ref[1, 0])
                if ptype == "uint16":
                    assert reference_count(field[0, 0]) == truth.count(label, f)
    described = reader.bioformats.describe(reader.source(info)[1], info.fileset_id)
    assert described.reader == "MetaxpressTiffReader" and described.series_count == 4


def test_fake_plate_equals_plain_bioformats_read(fs: Fs, tmp_path: Path) -> None:
    cat = OmeroCatalog(fs.engine)
    reader = fs.reader()
    truth = fs.plates["fake"]
    info = cat.pixels(truth.images["A1"][0])
    path = reader.source(info)[1]
    npz = tmp_path / "plain.npz"
    cfg = BioFormatsConfig()
    res = subprocess.run([sys.executable, "-m", "platequeue.demo._bfprobe", "--jar",
                          str(cfg.jar), "--npy", str(npz), str(path)],
                         capture_output=True, text=True, timeout=300, check=True)
    probe = json.loads(res.stdout)
    assert probe["reader"] == "FakeReader" and len(probe["series"]) == 12
    plain = np.load(npz)
    for images in truth.images.values():
        for iid in images:
            px = cat.pixels(iid)
            np.testing.assert_array_equal(reader.open_field(px), plain[f"arr_{px.series}"])


def test_tiled_reads_equal_whole_planes(fs: Fs) -> None:
    cat = OmeroCatalog(fs.engine)
    info = cat.pixels(fs.plates["htd-uint16"].images["B3"][1])
    whole = fs.reader().open_field(info)
    tiled_reader = fs.reader(bioformats=BioFormatsConfig(tile_bytes=1000, memo_dir=None))
    np.testing.assert_array_equal(tiled_reader.open_field(info), whole)


def test_shape_mismatch_is_a_clear_error(fs: Fs) -> None:
    info = OmeroCatalog(fs.engine).pixels(fs.plates["companion-uint16"].images["A1"][0])
    bad = dataclasses.replace(info, size_x=95)
    with pytest.raises(ShapeMismatch, match=rf"image {info.image_id}: .*companion.ome series 3 "
                       r"has \(T, C, Z, Y, X\) = \(1, 2, 1, 96, 96\), OMERO's pixels row says "
                       r"\(1, 2, 1, 96, 95\)"):
        fs.reader().open_field(bad)


def test_used_file_outside_the_roots_is_refused(fs: Fs, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """A companion whose TiffData points out of the root: refused after setId, logged."""
    comp = fs.plates["companion-uint16"]
    info = OmeroCatalog(fs.engine).pixels(comp.images["A1"][0])
    src_dir = fs.reader().source(info)[1].parent
    evil_dir = fs.root / "ManagedRepository" / "evil"
    evil_dir.mkdir(exist_ok=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    xml = (src_dir / info.name).read_text()  # type: ignore[operator]
    first_tiff = sorted(p.name for p in src_dir.glob("*.ome.tif"))[0]
    for tif in src_dir.glob("*.ome.tif"):
        (outside if tif.name == first_tiff else evil_dir).joinpath(tif.name).write_bytes(
            tif.read_bytes())
    rel = os.path.relpath(outside / first_tiff, evil_dir)
    assert rel.startswith("../")
    xml = xml.replace(f'FileName="{first_tiff}"', f'FileName="{rel}"')
    (evil_dir / "evil.companion.ome").write_text(xml)
    evil = dataclasses.replace(info, path="evil", name="evil.companion.ome")
    caplog.set_level(logging.WARNING, logger="platequeue.omero._originals")
    with pytest.raises(UnsafePathError, match="outside the allowed roots"):
        fs.reader().open_field(evil)
    assert any(first_tiff in r.getMessage() and "refused" in r.getMessage()
               for r in caplog.records)
    planted = dataclasses.replace(info, path="../../etc", name="passwd")
    with pytest.raises(UnsafePathError):
        fs.reader().open_field(planted)


def test_without_jar_one_clear_error(fs: Fs, tmp_path: Path) -> None:
    info = OmeroCatalog(fs.engine).pixels(fs.plates["htd-uint16"].images["A1"][0])
    src = BioFormatsSource(BioFormatsConfig(jar=tmp_path / "none.jar"), [fs.root])
    # This process already runs a JVM (started with the real jar): a new source with a
    # missing jar still reads through it, so probe the check itself.
    assert bf_available(src.config) == f"Bio-Formats jar not found at {tmp_path / 'none.jar'}"
    assert "Java runtime not found" in (bf_available(
        BioFormatsConfig(java_home=str(tmp_path))) or "")
    with pytest.raises(PixelsFileError):
        src.read_field(dataclasses.replace(info, name="missing.HTD"),
                       fs.root / "ManagedRepository" / str(info.path) / "missing.HTD")


def test_sources_scan_and_command(fs: Fs, tmp_path: Path) -> None:
    cat = OmeroCatalog(fs.engine)
    reader = fs.reader()
    ids = [fs.plates[k].id for k in ("romio-uint16", "companion-uint16", "htd-uint8", "fake")]
    scans = {s.plate_id: s for s in scan.scan_plates(cat, reader, ids)}
    expect = {"romio-uint16": ("romio", None), "companion-uint16": ("bioformats", "OMETiffReader"),
              "htd-uint8": ("bioformats", "MetaxpressTiffReader"), "fake": ("bioformats",
                                                                          "FakeReader")}
    for key, (source, bf_reader) in expect.items():
        s = scans[fs.plates[key].id]
        assert s.summary["readable"] == s.summary["images"] > 0, key
        assert s.summary["sources"] == {source: s.summary["images"]}, key
        assert {i.reader for i in s.images} == {bf_reader}, key
    info = cat.pixels(fs.plates["htd-uint16"].images["A1"][0])
    missing = scan.scan_image(reader, dataclasses.replace(info, name="gone.HTD"), 1, "A1", 0)
    assert (missing.readable, missing.reason) == (False, "file missing")
    out = scan.scan_image(reader, dataclasses.replace(info, path="../..", name="x"), 1, "A1", 0)
    assert out.reason == "outside the allowed roots"
    no_java = fs.reader(bioformats=BioFormatsConfig(java_home=str(tmp_path)))
    res = scan.scan_image(no_java, info, 1, "A1", 0, sample=False)
    assert (res.readable, res.reason) == (False, "Java missing")
    assert "Java missing" in (scan.plate_problem(cat, no_java, fs.plates["htd-uint16"].id) or "")
    assert scan.plate_problem(cat, reader, fs.plates["htd-uint16"].id) is None
    bit = scan.scan_image(reader, dataclasses.replace(info, pixels_type="bit"), 1, "A1", 0)
    assert bit.reason == "unsupported pixel type"

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMERO_", "DATABASE_"))}
    env.update(OMERO_DB_URL=str(fs.engine.url), OMERO_DATA_DIR=str(fs.root),
               PLATEQUEUE_HOME=str(tmp_path), PYTHONPATH=str(Path(__file__).parents[2]))
    cmd = [sys.executable, "-m", "platequeue.cli", "sources"]
    res_json = subprocess.run([*cmd, "--plate", str(fs.plates["companion-uint16"].id), "--json"],
                              env=env, capture_output=True, text=True, timeout=300)
    assert res_json.returncode == 0, res_json.stderr
    (plate,) = json.loads(res_json.stdout)
    assert plate["summary"]["readable"] == plate["summary"]["images"] == 4
    assert {i["format"] for i in plate["images"]} == {"OME-TIFF"}
    env["JAVA_HOME"] = str(tmp_path / "no-java")
    res_text = subprocess.run([*cmd, "--all"], env=env, capture_output=True, text=True,
                              timeout=600)
    assert res_text.returncode == 1
    assert "Java missing" in res_text.stdout and "romio 4" in res_text.stdout


def test_no_jvm_in_a_process_marked_as_prefork_parent() -> None:
    """The worker's parent marks itself; a JVM start there is refused, JPype never loaded."""
    code = ("import sys\n"
            "from platequeue.omero import _jvm\n"
            "from platequeue.omero._bioformats import default_jar\n"
            "_jvm.forbid_here()\n"
            "try:\n"
            "    _jvm.ensure_jvm(default_jar(), None)\n"
            "except RuntimeError as exc:\n"
            "    print(exc, 'jpype' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).parents[2], check=True)
    assert res.stdout.strip() == ("refusing to start a JVM in the worker's prefork parent "
                                  "process False")
