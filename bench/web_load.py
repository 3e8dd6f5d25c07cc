"""Run-status polling under load: ``GET /api/runs/<id>`` against a bare Flask endpoint.

Both are served by gunicorn with the repository's config (``templates/gunicorn.conf.py``,
gthread workers) and the same settings, in the same run. Ours answers with a bearer token
on real PostgreSQL (throwaway audit and OMERO databases) and an embedded Redis; the bare
app returns a constant JSON object. 50 concurrent keep-alive clients (one asyncio process)
poll each for a fixed time after a short warm-up.

Prints requests/s, p50 and p99 for both; last line ``ratio=<ours rps / bare rps>``
(aim: >= 0.5).

    python bench/web_load.py [--seconds 10] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask, Response, jsonify

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

bare_app = Flask("bare")


@bare_app.get("/status")
def bare_status() -> Response:
    return jsonify({"run_id": 1, "status": "running", "wells_total": 96, "wells_done": 40})


async def _client(host: str, port: int, request: bytes, stop: float,
                  latencies: list[float], errors: list[str]) -> None:
    """One keep-alive client; it reconnects when gunicorn recycles a worker
    (``max_requests``) and closes the connection, as a real client would."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                errors.append("reconnect")
                continue
            status = head.split(b" ", 2)[1]
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if status != b"200":
                errors.append(status.decode())
                continue
            latencies.append(time.perf_counter() - t0)
    finally:
        writer.close()


async def _load(port: int, path: str, token: str | None, clients: int,
                seconds: float) -> tuple[list[float], list[str]]:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.perf_counter() + seconds
    await asyncio.gather(*(_client("127.0.0.1", port, request, stop, latencies, errors)
                           for _ in range(clients)))
    return latencies, errors


def phase(name: str, port: int, path: str, token: str | None, clients: int,
          seconds: float) -> float:
    asyncio.run(_load(port, path, token, clients, min(2.0, seconds)))  # warm-up
    latencies, errors = asyncio.run(_load(port, path, token, clients, seconds))
    failed = [e for e in errors if e != "reconnect"]
    if failed or not latencies:
        raise SystemExit(f"{name}: {len(failed)} non-200 answers ({sorted(set(failed))})")
    q = statistics.quantiles(latencies, n=100)
    rps = len(latencies) / seconds
    print(f"{name:<28} {rps:8.0f} req/s  p50 {1000 * q[49]:6.2f} ms  "
          f"p99 {1000 * q[98]:6.2f} ms  ({len(latencies)} requests, "
          f"{len(errors)} reconnects)")
    return rps



def _gunicorn(env: dict[str, str], app: str, port: int,
              chdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "templates" /
                                                            "gunicorn.conf.py"),
         "--chdir", str(chdir), "--access-logfile", "/dev/null", app],
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, cwd=ROOT)


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn on port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn on port {port} did not listen in {timeout}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=50)
    args = ap.parse_args()

    from platequeue.testing import create_database, drop_database, free_port, postgres_available

    if not postgres_available():
        raise SystemExit("needs the local PostgreSQL server (platequeue.testing)")
    tmp = Path(tempfile.mkdtemp(prefix="pq-webload-"))
    audit_name, audit_url = create_database("pq_bench_audit")
    omero_name, omero_url = create_database("pq_bench_omero")
    env = {**os.environ, "APP_ENV": "test", "PLATEQUEUE_HOME": str(tmp / "home"),
           "DATABASE_URL": audit_url, "OMERO_DB_URL": omero_url,
           "OMERO_DATA_DIR": str(tmp / "OMERO"), "CUDA_VISIBLE_DEVICES": "",
           "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    os.environ.update(env)

    from platequeue import accounts, runs
    from platequeue.accounts import tokens
    from platequeue.demo import build_demo
    from platequeue.platform import get_platform
    from platequeue.queue import EmbeddedRedis
    from platequeue.settings import get_settings
    from platequeue.store import upgrade

    settings = get_settings()
    redis_server = EmbeddedRedis(settings.redis_socket)
    redis_server.start()
    servers: list[subprocess.Popen[bytes]] = []
    try:
        upgrade(settings.database_url)
        manifest = build_demo(settings.omero_db_url, settings.omero_data_dir, wells=96,
                              fields=1, size=64, count_range=(0, 1))
        platform = get_platform()
        view = runs.submit(platform, omename="demo", plate_id=manifest.plates[0].id,
                           pipeline="nuclei-count")  # no worker: it stays queued
        user = accounts.ensure_user(platform, "demo")
        token = tokens.create(platform, user.id, name="bench", scope="read", days=1)
        ours_port, bare_port = free_port(), free_port()
        servers.append(_gunicorn(env, "web.wsgi:app", ours_port, ROOT))
        servers.append(_gunicorn(env, "web_load:bare_app", bare_port, ROOT / "bench"))
        _wait_ready(ours_port, servers[0])
        _wait_ready(bare_port, servers[1])
        print(f"gunicorn: templates/gunicorn.conf.py (gthread), {os.cpu_count()} cores; "
              f"{args.clients} keep-alive clients, {args.seconds:.0f} s per phase")
        ours = phase(f"GET /api/runs/{view.run_id} (ours)", ours_port,
                     f"/api/runs/{view.run_id}", token, args.clients, args.seconds)
        bare = phase("bare Flask constant JSON", bare_port, "/status", None, args.clients,
                     args.seconds)
        print(f"ratio={ours / bare:.3f}")
    finally:
        for proc in servers:
            proc.terminate()
        for proc in servers:
            proc.wait(30)
        redis_server.stop()
        from platequeue.store import dispose_all

        dispose_all()
        drop_database(audit_name)
        drop_database(omero_name)


if __name__ == "__main__":
    main()
