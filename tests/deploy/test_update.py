"""update.sh: test in a throwaway environment, then pull, rebuild, migrate, restart.

Each test builds a bare "origin" with a new commit and a deployed clone one commit
behind; docker, systemctl, pip and platequeue are fakes that log their calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._support import ROOT

UPDATE = ROOT / "update.sh"

# Each fake logs its arguments, and "[settings]" when it sees the production settings.
FAKE = """#!/usr/bin/env bash
echo "{name} $*${{DATABASE_URL:+ [settings]}}" >> "$FAKE_LOG"
[[ " ${{FAKE_FAIL:-}} " == *" {name}:$1 "* ]] && exit 1
exit 0
"""
# The test command proves it runs in the target revision, inside the fresh venv.
TEST_CMD = 'echo "tests $(cat VERSION) venv=${VIRTUAL_ENV:+yes}" >> "$FAKE_LOG"; '


@dataclass
class Deployment:
    tmp: Path
    deployed: Path
    log: Path
    env: dict[str, str]
    old: str
    new: str

    def git(self, *args: str) -> str:
        return _git(self.deployed, *args, env=self.env)

    def run(
        self, *args: str, test_cmd: str = "true", **extra: str
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env, PLATEQUEUE_TEST_CMD=TEST_CMD + test_cmd, **extra)
        return subprocess.run(
            ["bash", str(UPDATE), "--repo", str(self.deployed), *args],
            capture_output=True, text=True, env=env, timeout=120,
        )

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def deploy_calls(self) -> list[str]:
        return [c for c in self.calls() if not c.startswith("tests ")]


def _git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True, timeout=60).stdout.strip()


@pytest.fixture
def dep(tmp_path: Path) -> Deployment:
    bin_dir = tmp_path / "bin"
    venv_bin = tmp_path / "prod-venv" / "bin"
    for directory, names in ((bin_dir, ("docker", "systemctl", "platequeue")),
                             (venv_bin, ("pip", "platequeue"))):
        directory.mkdir(parents=True)
        for name in names:
            (directory / name).write_text(FAKE.format(name=name))
            (directory / name).chmod(0o755)
    (tmp_path / "tmp").mkdir()
    env_file = tmp_path / "platequeue.env"
    env_file.write_text("# production settings\nDATABASE_URL=postgresql+psycopg://u@db/pq\n")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path / "tmp"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
        "FAKE_LOG": str(tmp_path / "calls.log"),
        "PLATEQUEUE_PYTHON": sys.executable,
        "PLATEQUEUE_VENV_OPTS": "--without-pip",
        "PLATEQUEUE_TEST_INSTALL": "true",
        "PLATEQUEUE_VENV": str(venv_bin.parent),
        "PLATEQUEUE_ENV_FILE": str(env_file),
    }
    origin, work, deployed = tmp_path / "origin.git", tmp_path / "work", tmp_path / "deployed"
    _git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin), env=env)
    _git(tmp_path, "clone", "--quiet", str(origin), str(work), env=env)
    _git(work, "checkout", "--quiet", "-b", "main", env=env)
    (work / "VERSION").write_text("v1\n")
    # The deployed repository's installer, faked like the other commands.
    (work / "scripts").mkdir()
    (work / "scripts" / "install-locked.sh").write_text(FAKE.format(name="install-locked"))
    _git(work, "add", "VERSION", "scripts", env=env)
    _git(work, "commit", "--quiet", "-m", "v1", env=env)
    _git(work, "push", "--quiet", "origin", "main", env=env)
    _git(tmp_path, "clone", "--quiet", str(origin), str(deployed), env=env)
    (deployed / "compose.yaml").write_text("services: {}\n")  # untracked, like .env
    (deployed / ".env").write_text("SECRET_KEY=x\n")
    old = _git(deployed, "rev-parse", "HEAD", env=env)
    (work / "VERSION").write_text("v2\n")
    _git(work, "commit", "--quiet", "-am", "v2", env=env)
    _git(work, "push", "--quiet", "origin", "main", env=env)
    new = _git(work, "rev-parse", "HEAD", env=env)
    return Deployment(tmp_path, deployed, tmp_path / "calls.log", env, old, new)


def _assert_untouched(dep: Deployment) -> None:
    assert dep.git("rev-parse", "HEAD") == dep.old
    assert (dep.deployed / "VERSION").read_text() == "v1\n"
    assert dep.deploy_calls() == [], "nothing may be rebuilt, migrated or restarted"
    assert list((dep.tmp / "tmp").iterdir()) == [], "throwaway environment not removed"


def test_failing_tests_change_nothing(dep: Deployment) -> None:
    proc = dep.run(test_cmd="exit 3")
    assert proc.returncode != 0
    assert "tests failed" in proc.stderr and "exit 3" in proc.stderr
    assert "nothing changed" in proc.stderr
    assert dep.calls() == ["tests v2 venv=yes"], "tests must run on the new revision"
    _assert_untouched(dep)


def test_passing_tests_compose(dep: Deployment) -> None:
    proc = dep.run("--mode", "compose")
    assert proc.returncode == 0, proc.stderr
    assert dep.git("rev-parse", "HEAD") == dep.new
    assert (dep.deployed / "VERSION").read_text() == "v2\n"
    compose = f"docker compose -f {dep.deployed}/compose.yaml"
    assert dep.calls() == [
        "tests v2 venv=yes",
        f"{compose} build",
        f"{compose} run --rm migrate",
        f"{compose} up -d --remove-orphans",
    ]
    assert list((dep.tmp / "tmp").iterdir()) == []


def test_passing_tests_systemd(dep: Deployment) -> None:
    proc = dep.run("--mode", "systemd")
    assert proc.returncode == 0, proc.stderr
    assert dep.git("rev-parse", "HEAD") == dep.new
    assert dep.calls() == [
        "tests v2 venv=yes",
        f"install-locked {dep.tmp}/prod-venv omero",
        "platequeue migrate [settings]",
        "systemctl restart platequeue.target",
    ]


def test_dry_run_prints_plan_and_changes_nothing(dep: Deployment) -> None:
    tracking = dep.git("rev-parse", "refs/remotes/origin/main")
    proc = dep.run("--dry-run", "--mode", "systemd")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for step in ("clone", "test:", "git merge --ff-only",
                 "scripts/install-locked.sh", "platequeue migrate",
                 "systemctl restart platequeue.target"):
        assert step in out, step
    assert f"{dep.old[:12]} -> {dep.new[:12]}" in out
    assert dep.calls() == [], "dry run ran something"
    assert dep.git("rev-parse", "refs/remotes/origin/main") == tracking, "dry run fetched"
    _assert_untouched(dep)


def test_already_up_to_date_does_nothing(dep: Deployment) -> None:
    assert dep.run().returncode == 0
    dep.log.unlink()
    proc = dep.run()
    assert proc.returncode == 0 and "nothing to do" in proc.stderr
    assert dep.calls() == []


def test_refuses_a_dirty_checkout(dep: Deployment) -> None:
    (dep.deployed / "VERSION").write_text("hand edit\n")
    proc = dep.run()
    assert proc.returncode != 0 and "local changes" in proc.stderr
    assert dep.git("rev-parse", "HEAD") == dep.old
    assert dep.calls() == []


def test_preconditions_checked_before_anything(dep: Deployment) -> None:
    (dep.deployed / ".env").unlink()
    proc = dep.run("--mode", "compose")
    assert proc.returncode != 0 and ".env not found" in proc.stderr
    proc = dep.run("--mode", "systemd", PLATEQUEUE_ENV_FILE=str(dep.tmp / "missing.env"))
    assert proc.returncode != 0 and "missing.env" in proc.stderr
    assert dep.calls() == []
    _assert_untouched(dep)


def test_failed_migration_does_not_restart(dep: Deployment) -> None:
    proc = dep.run("--mode", "systemd", FAKE_FAIL="platequeue:migrate")
    assert proc.returncode != 0 and "migration failed" in proc.stderr
    assert not any(c.startswith("systemctl") for c in dep.calls())


def test_failed_build_rolls_the_checkout_back(dep: Deployment) -> None:
    proc = dep.run("--mode", "compose", FAKE_FAIL="docker:compose")
    assert proc.returncode != 0 and "build failed" in proc.stderr
    assert dep.git("rev-parse", "HEAD") == dep.old
    assert [c.split()[-1] for c in dep.deploy_calls()] == ["build"]
