"""``platequeue demo-data``: run twice, one clear line, no traceback, nothing overwritten;
small fields hold fewer nuclei (ground truth still right), too small ones are a usage error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
from sqlalchemy import create_engine

from platequeue.cli import main
from platequeue.demo import DemoManifest, max_nuclei, reference_count
from platequeue.omero import OmeroCatalog, RepositoryReader, repository_roots
from tests.conftest import ROOT


def _demo_data(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMERO_", "DATABASE_", "REDIS_", "OAUTH_"))}
    env.update({"PLATEQUEUE_HOME": str(home), "APP_ENV": "test", "PYTHONPATH": str(ROOT)})
    return subprocess.run([sys.executable, "-m", "platequeue.cli", "demo-data", "--minimal",
                           *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_demo_data_twice_is_one_clear_line(tmp_path: Path) -> None:
    def demo_data() -> subprocess.CompletedProcess[str]:
        return _demo_data(tmp_path)

    first = demo_data()
    assert first.returncode == 0, first.stderr
    manifest = (tmp_path / "omero-demo" / "OMERO" / "manifest.json").read_bytes()
    second = demo_data()
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    lines = [ln for ln in second.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "already holds plates" in lines[0]
    assert str(tmp_path / "omero-demo") in lines[0]
    assert (tmp_path / "omero-demo" / "OMERO" / "manifest.json").read_bytes() == manifest


def _size_option() -> click.Option:
    cmd = main.commands["demo-data"]
    return next(p for p in cmd.params if isinstance(p, click.Option) and p.name == "size")


def test_smallest_size_writes_fields_whose_ground_truth_matches_the_pixels(
        tmp_path: Path) -> None:
    size_type = _size_option().type
    assert isinstance(size_type, click.IntRange) and size_type.min == 64
    res = _demo_data(tmp_path, "--size", "64", "--fields", "1")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    manifest = DemoManifest.load(tmp_path / "omero-demo" / "OMERO" / "manifest.json")
    demo = manifest.plates[0]
    assert (demo.size_x, demo.size_y, len(demo.wells), demo.fields) == (64, 64, 96, 1)
    assert all(1 <= n <= max_nuclei(64, 64) for ns in demo.counts.values() for n in ns)
    assert manifest.db_url is not None
    engine = create_engine(manifest.db_url)
    try:
        catalog = OmeroCatalog(engine)
        reader = RepositoryReader(manifest.data_dir, repository_roots(engine))
        seen = 0
        for well in catalog.wells(demo.id):
            for f in well.fields:
                field = reader.open_field(catalog.pixels(f.image_id))
                assert field.shape == (2, 1, 64, 64)
                dapi = field[0, 0].astype(field.dtype.newbyteorder("="))
                assert reference_count(dapi) == demo.count(well.label, f.field)
                seen += 1
        assert seen == 96
    finally:
        engine.dispose()


def test_size_below_the_minimum_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    assert "at least 64" in (_size_option().help or "")
    res = _demo_data(tmp_path, "--size", "32")
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    assert "Invalid value for '--size': 32 is not in the range 64<=x<=4096" in res.stderr
    assert not (tmp_path / "omero-demo").exists()
