"""Long-running services: ``worker``, ``beat``, ``web`` and the all-in-one ``up``."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import click

from platequeue.cli._procs import Supervisor, beat_proc, web_proc, worker_procs


def _settings() -> Any:
    from platequeue.logs import configure_logging
    from platequeue.settings import get_settings

    settings = get_settings()
    configure_logging(settings)
    return settings


def _exec(argv: list[str], env: dict[str, str] | None = None) -> None:
    os.execvpe(argv[0], argv, {**os.environ, **(env or {})})


@click.command(epilog="Examples: platequeue worker --gpus none -c 4; platequeue worker --gpus 0,1")
@click.option("--queues", default=None, help="gpu, or a CPU queue list (default cpu,maint).")
@click.option("--concurrency", "-c", type=click.IntRange(1, 256), default=None,
              help="Processes of the CPU worker (default: the number of cores).")
@click.option("--gpus", default="auto", show_default=True,
              help="auto (nvidia-smi / CUDA_VISIBLE_DEVICES), none, or a list like 0,1.")
def worker(queues: str | None, concurrency: int | None, gpus: str) -> None:
    """Start Celery workers: one per visible GPU (queue gpu) and a CPU worker."""
    procs = worker_procs(_settings(), queues=queues, concurrency=concurrency, gpus=gpus)
    if len(procs) == 1:
        _exec(procs[0].argv, procs[0].env)
    _supervise(procs)


@click.command(epilog="Example: platequeue beat")
def beat() -> None:
    """Start celery-beat (run exactly one)."""
    _exec(beat_proc(_settings()).argv)


@click.command(epilog="Example: platequeue web --host 0.0.0.0 --port 8080 -w 4")
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address.")
@click.option("--port", type=int, default=None, help="Default APP_PORT (8080).")
@click.option("--workers", "-w", type=click.IntRange(1, 64), default=2, show_default=True,
              help="gunicorn worker processes.")
def web(host: str, port: int | None, workers: int) -> None:
    """Serve the web app and JSON API with gunicorn."""
    _exec(web_proc(_settings(), host, port, workers).argv)


def _supervise(procs: list[Any], on_ready: Any = None) -> int:
    sup = Supervisor(dict(os.environ))
    stop = {"flag": False}

    def handler(_sig: int, _frame: Any) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    for p in procs:
        sup.start(p)
    code = 0
    try:
        if on_ready is not None:
            code = on_ready()
        else:
            while not stop["flag"]:
                dead = sup.dead()
                if dead:
                    click.echo(f"{', '.join(dead)} exited; shutting down", err=True)
                    code = 1
                    break
                time.sleep(0.5)
    finally:
        sup.stop()
    return code


@click.command(epilog="Examples: platequeue up   |   platequeue up --demo --port 8081")
@click.option("--demo", is_flag=True,
              help="Queue the demo plate with nuclei-count, check counts, then stop.")
@click.option("--port", type=int, default=None, help="Web port (default APP_PORT, 8080).")
@click.option("--concurrency", "-c", type=click.IntRange(1, 64), default=None,
              help="Processes of the CPU worker (default: the number of cores).")
def up(demo: bool, port: int | None, concurrency: int | None) -> None:
    """Broker (embedded Redis when REDIS_URL is unset), worker(s), beat and web, together."""
    from platequeue.cli._up import prepare, run_demo
    from platequeue.queue import EmbeddedRedis

    settings = _settings()
    embedded = EmbeddedRedis(settings.redis_socket) if settings.redis_embedded else None
    if embedded is not None:
        embedded.start()
    try:
        prepare(settings)
        procs = [*worker_procs(settings, queues=None, concurrency=concurrency), beat_proc(settings),
                 web_proc(settings, port=port, workers=1)]
        os.environ["PLATEQUEUE_HOME"] = str(settings.home)
        click.echo(f"web: http://127.0.0.1:{port or settings.app_port}/  "
                   f"(broker {settings.redis_url})", err=True)
        code = _supervise(procs, on_ready=(lambda: run_demo(settings)) if demo else None)
    finally:
        if embedded is not None:
            embedded.stop()
    sys.exit(code)


def register(group: click.Group) -> None:
    for cmd in (worker, beat, web, up):
        group.add_command(cmd)
