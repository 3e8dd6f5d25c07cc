"""Throwaway servers a fault test may kill: a private ``redis-server`` and a private
PostgreSQL cluster, each on its own port with its own directory (never the shared ones)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from platequeue.testing import free_port


class ThrowawayRedis:
    """``redis-server`` on a free port, data in *directory*, AOF on or off."""

    def __init__(self, directory: Path, *, aof: bool) -> None:
        self.directory = directory
        self.aof = aof
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
               str(self.directory), "--save", "", "--appendonly", "yes" if self.aof else "no",
               "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
               "--loglevel", "warning"]
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert self.proc.poll() is None and time.monotonic() < deadline, \
                    f"redis-server did not start; see {self.directory}"
                time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"PostgreSQL's {name} is not installed"
    return found[-1]


class ThrowawayPostgres:
    """A private PostgreSQL cluster (``initdb`` + ``pg_ctl``) on a free port; as root it
    runs as the ``postgres`` user (initdb refuses root), data dir in a temp folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "pgdata"
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(directory, "postgres", "postgres")

    def _run(self, *argv: str, timeout: float = 120) -> None:
        cmd = list(argv)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        assert res.returncode == 0, f"{' '.join(argv)} failed:\n{res.stdout}\n{res.stderr}"

    def init(self) -> None:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories="
                f"{self.directory} -c fsync=off -c max_connections=200")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l",
                  str(self.directory / "postgres.log"), "-o", opts, "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def answers(self) -> bool:
        engine = create_engine(self.url())
        try:
            with engine.connect():
                return True
        except OperationalError:
            return False
        finally:
            engine.dispose()

    def cleanup(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError):
                self.stop()
