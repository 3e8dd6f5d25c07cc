"""Shared fixtures: real PostgreSQL databases, a private Redis db number, real worker processes.

Every test creates its own databases (``pq_<random>``) and Redis db number and removes them.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from platequeue.settings import Settings, load_settings
from platequeue.testing import (
    create_database,
    drop_database,
    postgres_available,
    temporary_database,
)

ROOT = Path(__file__).resolve().parents[1]
REDIS_HOST = "127.0.0.1"
#: The audit store kinds a store-level test runs on (PostgreSQL where the local server answers).
STORE_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not postgres_available(), reason="needs the local PostgreSQL server"))]


@contextmanager
def migrated_platform(kind: str, directory: Path, prefix: str) -> Iterator[Any]:
    """A :class:`~platequeue.platform.Platform` on a fresh audit store of *kind*, migrated
    to head (the real schema), with its home in *directory*; the store is dropped after."""
    from platequeue.platform import Platform
    from platequeue.store import dispose_all, upgrade

    with temporary_database(kind, directory, prefix=prefix) as url:
        upgrade(url)
        yield Platform(load_settings({"DATABASE_URL": url, "PLATEQUEUE_HOME": str(directory)}))
        dispose_all()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis db number (1-15) leased to this test alone, flushed before and after."""
    with leased_redis_db() as url:
        yield url


@pytest.fixture
def other_redis_url(redis_url: str) -> Iterator[str]:
    """A second leased Redis db number (another service's Redis, e.g. OMERO.web's)."""
    with leased_redis_db() as url:
        yield url


@contextmanager
def leased_redis_db(lease_s: int = 1800) -> Iterator[str]:
    """Lease a free Redis db number (1-15), flushed before and after; yields its URL.

    The lease expires after *lease_s* seconds, so a killed test run frees it in the end."""
    lock = redis.Redis(host=REDIS_HOST, db=0)
    token = secrets.token_hex(8)
    deadline = time.monotonic() + 120
    while True:
        for n in range(1, 16):
            if lock.set(f"platequeue:test-db-lease:{n}", token, nx=True, ex=lease_s):
                break
        else:
            if time.monotonic() > deadline:
                raise RuntimeError("no free Redis db number for the test")
            time.sleep(0.5)
            continue
        break
    client = redis.Redis(host=REDIS_HOST, db=n)
    client.flushdb()
    try:
        yield f"redis://{REDIS_HOST}:6379/{n}"
    finally:
        client.flushdb()
        if lock.get(f"platequeue:test-db-lease:{n}") == token.encode():
            lock.delete(f"platequeue:test-db-lease:{n}")


@dataclass
class Stack:
    """Environment of one isolated platform instance plus the processes started for it."""

    env: dict[str, str]
    home: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return load_settings(self.env)

    def platform(self):  # type: ignore[no-untyped-def]
        from platequeue.platform import Platform, set_platform

        p = Platform(self.settings)
        set_platform(p)
        return p

    def cli(self, *args: str, check: bool = False,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([sys.executable, "-m", "platequeue.cli", *args], env=self.env,
                             capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        if check and res.returncode != 0:
            raise AssertionError(f"platequeue {' '.join(args)} failed:\n{res.stderr}")
        return res

    def start(self, *args: str, name: str = "proc") -> subprocess.Popen[bytes]:
        log = open(self.home / f"{name}-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers", *args],
                                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_worker(self, concurrency: int = 2, hostname: str | None = None,
                     queues: str = "cpu,maint") -> subprocess.Popen[bytes]:
        hostname = hostname or f"w{len(self.procs)}-{secrets.token_hex(3)}@test"
        proc = self.start("worker", "-P", "prefork", "-c", str(concurrency), "-Q", queues,
                          "-n", hostname, "--loglevel", "INFO", "-E", name="worker")
        from platequeue.queue import redis_client  # TCP or the embedded server's socket

        client = redis_client(self.settings)
        deadline = time.monotonic() + 90
        while client.get(f"platequeue:worker:{hostname}") is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {hostname} did not come up; see {self.home}")
            time.sleep(0.2)
        return proc

    def start_beat(self) -> subprocess.Popen[bytes]:
        return self.start("beat", "--schedule", str(self.home / "beat-schedule"),
                          "--loglevel", "INFO", name="beat")

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and its pool children (its whole session)."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[Stack]:
    """An isolated platform on real PostgreSQL (audit + OMERO databases) and real Redis,
    with the demo plate written into the OMERO fixture (the full fixture — every group
    level, a 384-well plate with gaps, float32 and OME-TIFF/pyramid/OME-Zarr plates — for
    tests marked ``full_fixture``). Start workers with ``stack.start_worker()``."""
    from platequeue.demo import build_demo
    from platequeue.store import upgrade

    audit_name, audit_url = create_database("pq_audit")
    omero_name, omero_url = create_database("pq_omero")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMERO_", "DATABASE_", "REDIS_", "OAUTH_"))}
    env.update({
        "APP_ENV": "test", "PLATEQUEUE_HOME": str(home), "DATABASE_URL": audit_url,
        "REDIS_URL": redis_url, "OMERO_DB_URL": omero_url,
        "OMERO_DATA_DIR": str(tmp_path / "OMERO"), "SWEEP_INTERVAL": "1",
        "WORKER_HEARTBEAT_TTL": "3", "WELL_MAX_ATTEMPTS": "3", "PYTHONPATH": str(ROOT),
        "REQUEUE_AFTER": "10",
        "LOG_LEVEL": "INFO", "CUDA_VISIBLE_DEVICES": "",
    })
    s = Stack(env=env, home=home)
    upgrade(audit_url)
    full = request.node.get_closest_marker("full_fixture") is not None
    s.manifest = build_demo(omero_url, tmp_path / "OMERO", wells=96, fields=2, size=256,
                            seed=7, full=full)  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.stop_all()
        from platequeue.platform import set_platform
        from platequeue.store import dispose_all

        set_platform(None)
        dispose_all()
        drop_database(audit_name)
        drop_database(omero_name)
