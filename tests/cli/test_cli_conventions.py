"""The command line's conventions: ``python -m``, ``--version``, help with examples on every
command and option, and one line with a documented exit code for a bad setting."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import click
import pytest

from platequeue.cli import main
from tests.conftest import ROOT

# One invocation of every command (after its settings would be read).
COMMANDS = [
    ["migrate"], ["demo-data", "--minimal"], ["plates", "--user", "demo"],
    ["submit", "--user", "demo", "--plate", "1", "--pipeline", "nuclei-count"],
    ["status", "1"], ["cancel", "1"], ["rerun-failed", "1"], ["results", "1"],
    ["pipelines"], ["token", "create", "--user", "demo"], ["user", "role", "demo", "admin"],
    ["flower", "--print-command"], ["worker", "--gpus", "none"], ["beat"], ["web"], ["up"],
    ["schedule", "list"], ["schedule", "pause", "1", "--user", "demo"],
    ["schedule", "create", "--user", "demo", "--cron", "0 2 * * *", "--plate", "1",
     "--pipeline", "nuclei-count"],
    ["sources", "--all", "--no-read"],
]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "REDIS_", "OMERO_", "APP_ENV"))}
    return subprocess.run([sys.executable, "-m", "platequeue", *args], cwd=ROOT,
                          env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
                          capture_output=True, text=True, timeout=120)


def test_python_m_and_version() -> None:
    res = _cli("--version")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"platequeue {version('platequeue')}"
    helped = _cli("--help")
    assert helped.returncode == 0 and "submit" in helped.stdout and "Exit codes" in helped.stdout


def _walk(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out.extend(_walk(cmd, (*path, name)))
        else:
            out.append((" ".join((*path, name)), cmd))
    return out


def test_every_command_and_option_is_explained_with_examples() -> None:
    commands = _walk(main)
    assert {name for name, _ in commands} >= {" ".join(c[:2]) if c[0] in {
        "token", "user", "schedule"} else c[0] for c in COMMANDS}
    for name, cmd in commands:
        assert cmd.help, f"{name}: no help"
        assert "Example" in (cmd.epilog or ""), f"{name}: no example"
        for param in cmd.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.help, f"{name} {param.opts[0]}: no help text"


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_bad_setting_is_one_line_with_exit_code_2(args: list[str]) -> None:
    res = _cli(*args, env={"TASK_TIME_LIMIT": "soon", "PLATEQUEUE_HOME": "/nonexistent/pq"})
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert res.stderr.splitlines() == [
        "configuration error: TASK_TIME_LIMIT='soon' is not an integer"], res.stderr


def test_unreachable_database_is_one_line_with_exit_code_4() -> None:
    res = _cli("status", "1", env={"APP_ENV": "test",
                                   "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
                                   "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert res.returncode == 4, res.stderr
    [line] = res.stderr.splitlines()
    assert line.startswith("unavailable: ") and "Traceback" not in res.stderr


def test_parameters_are_checked_before_anything_runs() -> None:
    res = _cli("submit", "--user", "demo", "--plate", "1", "--pipeline", "p",
               "--channel", "nuclei")
    assert res.returncode == 2 and "ROLE=CHANNEL" in res.stderr
