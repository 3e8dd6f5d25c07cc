"""Process commands and a small supervisor for ``platequeue worker|beat|web|up``.

GPU workers: one process per visible GPU, ``CUDA_VISIBLE_DEVICES=<i>``, ``-c 1``, queue
``gpu``; the launcher counts GPUs with ``nvidia-smi -L`` and never initialises CUDA itself.
CPU workers take ``cpu,maint`` with CUDA hidden.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from platequeue.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def visible_gpus(settings: Settings, spec: str = "auto") -> list[str]:
    """GPU indices to start workers for: ``auto`` (CUDA_VISIBLE_DEVICES or nvidia-smi),
    ``none``, or an explicit comma list."""
    if spec == "none":
        return []
    if spec != "auto":
        return [g.strip() for g in spec.split(",") if g.strip()]
    if settings.cuda_visible_devices is not None:
        return [g.strip() for g in settings.cuda_visible_devices.split(",") if g.strip()]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20,
                             check=True).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        log.warning("nvidia-smi failed (%s); starting CPU workers only", exc)
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def celery_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers", *args]


def worker_procs(settings: Settings, *, queues: str | None, concurrency: int | None,
                 gpus: str = "auto") -> list[Proc]:
    from platequeue.queue import Queue  # here: `platequeue --help` need not load Celery

    level = settings.log_level
    mtpc = str(settings.worker_max_tasks_per_child)
    procs = []
    gpu_ids = visible_gpus(settings, gpus) if queues in (None, Queue.GPU) else []
    for i in gpu_ids:
        procs.append(Proc(f"worker-gpu{i}", celery_argv(
            "worker", "-P", "prefork", "-c", "1", "-Q", Queue.GPU.value, "-n", f"gpu{i}@%h",
            "--max-tasks-per-child", mtpc, "-E", "--loglevel", level),
            {"CUDA_VISIBLE_DEVICES": i}))
    if queues != Queue.GPU:
        cpu_queues = queues or f"{Queue.CPU},{Queue.MAINT}"
        n = concurrency or max(1, (os.cpu_count() or 2) - len(gpu_ids))
        procs.append(Proc("worker-cpu", celery_argv(
            "worker", "-P", "prefork", "-c", str(n), "-Q", cpu_queues, "-n", "cpu@%h",
            "--max-tasks-per-child", mtpc, "-E", "--loglevel", level),
            {"CUDA_VISIBLE_DEVICES": ""}))
    return procs


def beat_proc(settings: Settings) -> Proc:
    schedule = settings.home / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    return Proc("beat", celery_argv("beat", "--schedule", str(schedule),
                                    "--loglevel", settings.log_level))


WEB_THREADS = 8


def web_proc(settings: Settings, host: str = "127.0.0.1", port: int | None = None,
             workers: int = 2) -> Proc:
    bind = f"{host}:{port or settings.app_port}"
    # gthread: a slow client holds one thread, not the whole worker (sync workers would)
    return Proc("web", [sys.executable, "-m", "gunicorn", "-b", bind, "-w", str(workers),
                        "-k", "gthread", "--threads", str(WEB_THREADS),
                        "--logger-class", "web.gunicorn_logging.RedactingLogger",
                        "--access-logfile", "-", "web.wsgi:app"])


class Supervisor:
    """Start processes, stop them all cleanly (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(self, base_env: dict[str, str]) -> None:
        self.base_env = base_env
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, proc: Proc) -> None:
        env = {**self.base_env, **proc.env}
        log.info("starting %s: %s", proc.name, " ".join(proc.argv))
        self.running[proc.name] = subprocess.Popen(proc.argv, env=env)

    def dead(self) -> list[str]:
        return [n for n, p in self.running.items() if p.poll() is not None]

    def stop(self, grace: float = 20.0) -> None:
        for p in self.running.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, p in self.running.items():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", name)
                p.kill()
                p.wait()
        self.running.clear()
