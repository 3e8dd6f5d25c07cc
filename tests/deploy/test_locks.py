"""Lock files: complete, hashed, in step with pyproject.toml, and the ones deployments use."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ._support import ROOT, load_compose

LOCKS = ROOT / "requirements" / "lock"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]
# Each lock and the extras it was compiled for (scripts/lock.sh).
SETS = {
    "runtime": ("server", "worker", "ops"),
    "runtime-omero": ("server", "worker", "ops", "omero"),
    "runtime-gpu": ("server", "worker", "ops", "gpu"),
    "runtime-gpu-omero": ("server", "worker", "ops", "gpu", "omero"),
    "dev": ("server", "worker", "ops", "omero", "demo", "dev", "omeroweb-test"),
}
ENV = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux",
       "platform_system": "Linux", "implementation_name": "cpython",
       "platform_python_implementation": "CPython", "platform_machine": "x86_64"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def _pins(name: str) -> dict[str, Version]:
    """Pinned versions that apply on CPython 3.11 / Linux; every pin must carry hashes."""
    text = (LOCKS / f"{name}.txt").read_text()
    out: dict[str, Version] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        first = block.splitlines()[0]
        if first.startswith("#") or not first.strip():
            continue
        m = PIN.match(first)
        assert m, f"{name}: not an exact pin: {first!r}"
        assert "--hash=sha256:" in block, f"{name}: {m.group(1)} has no hash"
        if m.group(3) and not Marker(m.group(3)).evaluate(ENV):
            continue
        out[canonicalize_name(m.group(1))] = Version(m.group(2))
    return out


def _requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """Direct requirements of the base install plus ``extras``, self-references expanded."""
    out = [Requirement(r) for r in PROJECT["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for raw in EXTRAS[extra]:
            req = Requirement(raw)
            if canonicalize_name(req.name) == "platequeue":
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


@pytest.mark.parametrize("name", sorted(SETS))
def test_lock_satisfies_pyproject(name: str) -> None:
    pins = _pins(name)
    assert "zeroc-ice" not in pins  # installed from the built wheel, never from the lock
    for req in _requirements(SETS[name]):
        if req.marker and not req.marker.evaluate(ENV):
            continue
        key = canonicalize_name(req.name)
        if key == "zeroc-ice":
            continue
        assert key in pins, f"{name}: {req} is not locked (run scripts/lock.sh)"
        assert req.specifier.contains(pins[key], prereleases=True), (
            f"{name}: {key}=={pins[key]} does not satisfy {req} (run scripts/lock.sh)")


def test_deployed_extras_have_locks() -> None:
    for svc in load_compose()["services"].values():
        extras = (svc.get("build") or {}).get("args", {}).get("EXTRAS")
        if extras is None:
            continue
        # compose's default for ${PLATEQUEUE_EXTRAS:-omero}
        extras = re.sub(r"\$\{PLATEQUEUE_EXTRAS:-([^}]*)\}", r"\1", extras)
        key = "-".join(sorted({e for e in extras.split(",") if e}))
        assert (LOCKS / f"runtime{'-' + key if key else ''}.txt").exists(), extras


def _fake_venv(tmp_path: Path) -> tuple[Path, Path]:
    venv, log = tmp_path / "venv", tmp_path / "calls.log"
    (venv / "bin").mkdir(parents=True)
    py = venv / "bin" / "python"
    py.write_text('#!/usr/bin/env bash\necho "python $*" >> "$FAKE_LOG"\n'
                  '[[ "$1 $2" == "-c import Ice" ]] && exit 1\nexit 0\n')
    py.chmod(0o755)
    return venv, log


@pytest.mark.parametrize(("extras", "lock"), [
    ("", "runtime.txt"), ("omero", "runtime-omero.txt"), ("omero,gpu", "runtime-gpu-omero.txt"),
    ("gpu,omero,server", "runtime-gpu-omero.txt"), ("worker,ops", "runtime.txt"),
])
def test_install_locked_picks_the_lock(tmp_path: Path, extras: str, lock: str) -> None:
    venv, log = _fake_venv(tmp_path)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "zeroc_ice-3.6.5-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "install-locked.sh"), str(venv),
                           extras, str(wheels)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "FAKE_LOG": str(log)})
    assert proc.returncode == 0, proc.stderr
    calls = [c for c in log.read_text().splitlines() if not c.startswith("python -c")]
    ice = [f"python -m pip install --quiet --no-deps {wheels}/zeroc_ice-3.6.5-cp311-cp311-"
           "linux_x86_64.whl"] if "omero" in extras else []
    assert calls == [*ice,
                     f"python -m pip install --quiet --require-hashes --no-deps -r {LOCKS}/{lock}",
                     f"python -m pip install --quiet --no-deps {ROOT}",
                     "python -m pip check"]


def test_install_locked_refuses_extras_without_a_lock(tmp_path: Path) -> None:
    venv, log = _fake_venv(tmp_path)
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "install-locked.sh"), str(venv),
                           "bioformats"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "FAKE_LOG": str(log)})
    assert proc.returncode == 1 and "no lock file for extras 'bioformats'" in proc.stderr
    assert not log.exists() or "pip install" not in log.read_text()
