"""``platequeue demo-data`` run twice: one clear line, no traceback, nothing overwritten."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_demo_data_twice_is_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMERO_", "DATABASE_", "REDIS_", "OAUTH_"))}
    env.update({"PLATEQUEUE_HOME": str(tmp_path), "APP_ENV": "test", "PYTHONPATH": str(ROOT)})

    def demo_data() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "platequeue.cli", "demo-data", "--minimal"],
                              env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=300)

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
