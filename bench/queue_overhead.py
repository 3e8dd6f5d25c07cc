"""Platform overhead per well against bare Celery, same broker and worker, one run.

A 384-well plate goes through the whole platform with the ``noop`` pipeline (rows, fair-share
dispatch, claims, pixel reads of a tiny field, measurement upserts, finalisation), and a bare
Celery group of 384 empty tasks goes through the same Redis and the same worker process.
Last line: ``ratio=<platform seconds / bare seconds>`` (aim: <= 1.5).

Uses PostgreSQL at 127.0.0.1 when it answers (else SQLite) and an embedded Redis.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="pq-bench-"))
    from platequeue.testing import create_database, drop_database, postgres_available

    pg_name, pg_url = create_database("pq_bench") if postgres_available() else (None, None)
    env = {**os.environ, "APP_ENV": "test", "PLATEQUEUE_HOME": str(tmp / "home"),
           "OMERO_DB_URL": f"sqlite:///{tmp / 'omero.db'}", "OMERO_DATA_DIR": str(tmp / "OMERO"),
           "CUDA_VISIBLE_DEVICES": "", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    if pg_url:
        env["DATABASE_URL"] = pg_url
    env.pop("REDIS_URL", None)
    os.environ.update(env)

    from platequeue.demo import build_demo
    from platequeue.queue import EmbeddedRedis
    from platequeue.settings import get_settings
    from platequeue.store import upgrade

    settings = get_settings()
    redis_server = EmbeddedRedis(settings.redis_socket)
    redis_server.start()
    worker = None
    try:
        upgrade(settings.database_url)
        manifest = build_demo(settings.omero_db_url, settings.omero_data_dir, wells=384,
                              fields=1, size=64, count_range=(0, 1))
        plate = manifest.plates[0]
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers", "worker", "-P", "prefork",
             "-c", "2", "-Q", "cpu,maint", "-n", "bench@%h", "--loglevel", "WARNING"],
            env=env, cwd=ROOT)
        import workers
        from platequeue import runs
        from platequeue.platform import get_platform
        from workers.tasks import ping

        app = workers.app
        platform = get_platform()
        ping.apply_async(queue="cpu").get(timeout=120)  # worker is up

        def bare() -> float:
            from celery import group

            t0 = time.perf_counter()
            group(ping.s().set(queue="cpu") for _ in range(384)).apply_async().get(timeout=600)
            return time.perf_counter() - t0

        def ours() -> float:
            t0 = time.perf_counter()
            view = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="noop")
            while runs.status(platform, view.run_id).status not in (
                    "succeeded", "partial", "failed", "cancelled"):
                time.sleep(0.02)
            elapsed = time.perf_counter() - t0
            final = runs.status(platform, view.run_id)
            assert final.status == "succeeded" and final.wells_done == 384, final
            return elapsed

        ours()  # warm both paths once
        bare()
        t_bare = min(bare(), bare())
        t_ours = min(ours(), ours())
        print(f"broker: embedded redis; audit store: {'postgresql' if pg_url else 'sqlite'}; "
              f"worker: 1 process, 2 pool children")
        print(f"bare celery group : 384 tasks in {t_bare:.3f} s ({384 / t_bare:.0f} tasks/s)")
        print(f"platform (noop)   : 384 wells in {t_ours:.3f} s ({384 / t_ours:.0f} wells/s)")
        print(f"per well          : platform {1000 * t_ours / 384:.2f} ms, "
              f"bare {1000 * t_bare / 384:.2f} ms")
        print(f"ratio={t_ours / t_bare:.3f}")
        del app
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(60)
        redis_server.stop()
        from platequeue.store import dispose_all

        dispose_all()
        if pg_name:
            drop_database(pg_name)


if __name__ == "__main__":
    main()
