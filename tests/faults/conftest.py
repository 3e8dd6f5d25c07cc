"""Fault-injection fixtures: a platform whose processes are started with the commands the
README and the systemd units use (``platequeue worker``, which runs
``celery -A workers worker ... -n cpu@%h``, and ``platequeue beat``), so a restarted worker
comes back under the *same* name. Settings are small (heartbeat TTL 3 s, sweep every 1 s)
so that recovery bounds derived from them stay short."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from platequeue.testing import create_database, drop_database
from tests.conftest import ROOT, Stack
from tests.faults.servers import ThrowawayPostgres, ThrowawayRedis

SMALL = {"SWEEP_INTERVAL": "1", "WORKER_HEARTBEAT_TTL": "3", "WELL_MAX_ATTEMPTS": "3",
         "REQUEUE_AFTER": "10", "SCHEDULE_TICK_INTERVAL": "2"}
CPU_WORKER = f"cpu@{socket.gethostname()}"  # what `-n cpu@%h` expands to


class FaultStack(Stack):
    """A :class:`Stack` whose worker and beat are started as the services start them."""

    def start_cli(self, *args: str, name: str) -> subprocess.Popen[bytes]:
        log = open(self.home / f"{name}-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "platequeue.cli", *args], env=self.env,
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def boot_of(self, name: str = CPU_WORKER) -> str | None:
        try:
            raw = redis.Redis.from_url(self.env["REDIS_URL"]).get(f"platequeue:worker:{name}")
        except redis.RedisError:
            return None
        return None if raw is None else str(json.loads(raw).get("boot"))

    def worker(self, concurrency: int = 2, *, after_boot: str | None = None,
               timeout: float = 120) -> subprocess.Popen[bytes]:
        """``platequeue worker -c N --gpus none`` (one CPU worker named ``cpu@<host>``);
        waits until its heartbeat shows a boot id other than *after_boot*."""
        proc = self.start_cli("worker", "--concurrency", str(concurrency), "--gpus", "none",
                              name="worker")
        deadline = time.monotonic() + timeout
        while True:
            boot = self.boot_of()
            if boot is not None and boot != after_boot:
                return proc
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not come up; see {self.home}")
            time.sleep(0.1)

    def beat(self) -> subprocess.Popen[bytes]:
        return self.start_cli("beat", name="beat")

    def stop_all(self) -> None:
        """Teardown: nothing here needs a warm shutdown, so SIGKILL (saves seconds each)."""
        for proc in self.procs:
            if proc.poll() is None:
                self.sigkill(proc)

    def sigkill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the main process and everything it started (as systemd does to the unit's
        cgroup once the main process is gone)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _settings_env(tmp_path: Path, home: Path, redis_url: str, audit_url: str,
                  omero_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMERO_", "DATABASE_", "REDIS_", "OAUTH_"))}
    env.update({
        "APP_ENV": "test", "PLATEQUEUE_HOME": str(home), "DATABASE_URL": audit_url,
        "REDIS_URL": redis_url, "OMERO_DB_URL": omero_url,
        "OMERO_DATA_DIR": str(tmp_path / "OMERO"), "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "INFO", "CUDA_VISIBLE_DEVICES": "", **SMALL, **extra,
    })
    return env


def build(tmp_path: Path, redis_url: str, audit_url: str, omero_url: str,
          extra: dict[str, str] | None = None) -> FaultStack:
    """Migrate the audit store and write a small demo plate (24 wells x 1 field)."""
    from platequeue.demo import build_demo
    from platequeue.store import upgrade

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    stack = FaultStack(env=_settings_env(tmp_path, home, redis_url, audit_url, omero_url,
                                         extra or {}), home=home)
    upgrade(audit_url)
    stack.manifest = build_demo(omero_url, tmp_path / "OMERO", wells=24,  # type: ignore[attr-defined]
                                fields=1, size=192, seed=11,
                                count_range=(1, 8))
    return stack


def _teardown(stack: FaultStack) -> None:
    from platequeue.platform import set_platform
    from platequeue.store import dispose_all

    stack.stop_all()
    set_platform(None)
    dispose_all()


@pytest.fixture
def fault_stack(request: pytest.FixtureRequest, tmp_path: Path,
                redis_url: str) -> Iterator[FaultStack]:
    """On the shared PostgreSQL (own databases) and a leased Redis db; settings in
    ``@pytest.mark.settings(NAME=value)`` are added to the environment."""
    marker = request.node.get_closest_marker("settings")
    extra = dict(marker.kwargs) if marker else {}
    audit_name, audit_url = create_database("pq_audit")
    omero_name, omero_url = create_database("pq_omero")
    stack = build(tmp_path, redis_url, audit_url, omero_url, extra)
    try:
        yield stack
    finally:
        _teardown(stack)
        drop_database(audit_name)
        drop_database(omero_name)


@pytest.fixture(params=[True, False], ids=["aof", "no-aof"])
def redis_fault_stack(request: pytest.FixtureRequest,
                      tmp_path: Path) -> Iterator[tuple[FaultStack, ThrowawayRedis]]:
    """On a throwaway ``redis-server`` (AOF on or off) the test may kill and restart."""
    server = ThrowawayRedis(tmp_path / "redis", aof=request.param)
    server.start()
    audit_name, audit_url = create_database("pq_audit")
    omero_name, omero_url = create_database("pq_omero")
    stack = build(tmp_path, server.url, audit_url, omero_url)
    try:
        yield stack, server
    finally:
        _teardown(stack)
        server.stop()
        drop_database(audit_name)
        drop_database(omero_name)


@pytest.fixture
def pg_fault_stack(tmp_path: Path,
                   redis_url: str) -> Iterator[tuple[FaultStack, ThrowawayPostgres]]:
    """Audit store and OMERO database on a throwaway PostgreSQL cluster the test may stop."""
    directory = Path(tempfile.mkdtemp(prefix="pq-faults-pg-"))
    server = ThrowawayPostgres(directory)
    stack = None
    try:
        server.init()
        server.start()
        suffix = secrets.token_hex(3)
        audit_url = server.create_database(f"audit_{suffix}")
        omero_url = server.create_database(f"omero_{suffix}")
        stack = build(tmp_path, redis_url, audit_url, omero_url)
        yield stack, server
    finally:
        if stack is not None:
            _teardown(stack)
        server.cleanup()
        shutil.rmtree(directory, ignore_errors=True)
