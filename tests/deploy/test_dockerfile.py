"""Dockerfile: parameterised base and extras, non-root, no secrets, matches compose.yaml."""

from __future__ import annotations

import re

import pytest

from ._support import ROOT, command, load_compose

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        buf += " " + line.rstrip("\\").strip() if buf else line.rstrip("\\").strip()
        if not line.endswith("\\"):
            word, _, rest = buf.partition(" ")
            out.append((word.upper(), rest.strip()))
            buf = ""
    return out


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return _instructions()


def test_base_image_is_a_build_arg(instructions: list[tuple[str, str]]) -> None:
    assert instructions[0] == ("ARG", "BASE_IMAGE=python:3.11-slim")
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert froms[0].startswith("${BASE_IMAGE}")
    # Every stage derives from the parameterised base (same Python ABI for built wheels).
    stage_names = {f.split()[-1] for f in froms}
    assert all(f.split()[0] in {"${BASE_IMAGE}", *stage_names} for f in froms)


def test_extras_install_and_non_root(instructions: list[tuple[str, str]]) -> None:
    args = {rest.split("=")[0] for word, rest in instructions if word == "ARG"}
    assert {"BASE_IMAGE", "EXTRAS", "APP_UID"} <= args
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    # The lock file of these extras, hash-checked (its runtime locks include Flower, which
    # compose runs as `platequeue flower`).
    assert 'bash /src/scripts/install-locked.sh /opt/venv "${EXTRAS}" /wheels' in runs
    copies = [rest for word, rest in instructions if word == "COPY"]
    assert "requirements/lock /src/requirements/lock" in copies
    assert "flower==" in (ROOT / "requirements" / "lock" / "runtime-omero.txt").read_text()
    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def test_zeroc_ice_is_patched_for_python_311(instructions: list[tuple[str, str]]) -> None:
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert "bash /ctx/scripts/build-ice-wheel.sh /wheels" in runs  # the same script as hosts
    script = (ROOT / "scripts" / "build-ice-wheel.sh").read_text()
    assert "s/#include <eval.h>/#include <Python.h>/" in script
    assert "s/PyThreadState_GET()->frame/PyEval_GetFrame()/" in script


def test_no_secrets_in_image(instructions: list[tuple[str, str]]) -> None:
    secret = re.compile(r"PASSWORD|SECRET|TOKEN|BASIC_AUTH|DATABASE_URL|OMERO_DB_URL", re.I)
    for word, rest in instructions:
        if word in {"ARG", "ENV"}:
            assert not secret.search(rest), f"{word} {rest}"
    ignored = DOCKERIGNORE.read_text().split()
    assert ".env" in ignored and ".git" in ignored and ".venv" in ignored


def test_compose_builds_match_dockerfile(instructions: list[tuple[str, str]]) -> None:
    args = {rest.split("=")[0] for word, rest in instructions if word == "ARG"}
    copies = [rest for word, rest in instructions if word == "COPY"]
    services = load_compose()["services"]
    for name, svc in services.items():
        build = svc.get("build")
        if build:
            assert set(build.get("args", {})) <= args, name
    gpu_args = services["worker-gpu0"]["build"]["args"]
    assert "cuda" in gpu_args["BASE_IMAGE"] and "gpu" in gpu_args["EXTRAS"].split(",")
    web = command(services["web"])
    conf = web[web.index("--config") + 1]
    assert f"templates/gunicorn.conf.py {conf}" in copies
