"""backup.sh then restore.sh into a fresh database gives back the same rows."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ._support import TEMPLATES
from .conftest import psql, with_db

BACKUP = TEMPLATES / "backup.sh"
RESTORE = TEMPLATES / "restore.sh"
TABLES = ("runs", "well_task", "measurement")

SCHEMA_SQL = """
CREATE TABLE runs (id bigserial PRIMARY KEY, owner text NOT NULL, status text NOT NULL,
                   params jsonb NOT NULL DEFAULT '{}', created timestamptz NOT NULL DEFAULT now());
CREATE TABLE well_task (id bigserial PRIMARY KEY, run_id bigint NOT NULL REFERENCES runs(id),
                        well_id bigint NOT NULL, status text NOT NULL, attempts int NOT NULL,
                        UNIQUE (run_id, well_id));
CREATE TABLE measurement (run_id bigint NOT NULL, well_id bigint NOT NULL, field int NOT NULL,
                          feature text NOT NULL, value double precision,
                          PRIMARY KEY (run_id, well_id, field, feature));
INSERT INTO runs (owner, status, params) VALUES
    ('alice', 'done', '{"pipeline": "nuclei", "sigma": 2.0}'),
    ('bob', 'partial', '{"pipeline": "cells"}');
INSERT INTO well_task (run_id, well_id, status, attempts)
    SELECT 1 + (g % 2), g, CASE WHEN g % 7 = 0 THEN 'failed' ELSE 'done' END, 1 + g % 3
    FROM generate_series(1, 96) AS g;
INSERT INTO measurement
    SELECT 1 + (g % 2), g, f, 'count', (g * 31 + f) / 7.0
    FROM generate_series(1, 96) AS g, generate_series(0, 3) AS f;
"""


def _snapshot(dsn: str) -> dict[str, str]:
    """Every row of every table (ordered) plus the sequence positions."""
    out = {t: psql(dsn, f"SELECT * FROM {t} ORDER BY 1, 2") for t in TABLES}
    out["sequences"] = psql(dsn, "SELECT last_value FROM runs_id_seq UNION ALL "
                                 "SELECT last_value FROM well_task_id_seq")
    return out


def _run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture
def source_db(pg_dsn: str, fresh_db_name: Callable[[], str]) -> str:
    name = fresh_db_name()
    psql(pg_dsn, f'CREATE DATABASE "{name}"')
    dsn = with_db(pg_dsn, name)
    psql(dsn, SCHEMA_SQL)
    return dsn


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


def test_backup_then_restore_roundtrip(source_db: str, fresh_db_name: Callable[[], str],
                                       tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    # The app's SQLAlchemy URL, driver suffix and all.
    url = source_db.replace("postgresql://", "postgresql+psycopg://")
    env = _env(DATABASE_URL=url, BACKUP_DIR=str(backups), BACKUP_RETENTION_DAYS="14")
    proc = _run(BACKUP, env=env)
    assert proc.returncode == 0, proc.stderr
    dumps = list(backups.glob("platequeue-*.dump"))
    assert len(dumps) == 1 and not list(backups.glob("*.partial"))
    assert dumps[0].read_bytes()[:5] == b"PGDMP"  # custom format

    target = fresh_db_name()
    proc = _run(RESTORE, str(dumps[0]), target, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _snapshot(with_db(source_db, target)) == _snapshot(source_db)

    # "Fresh" means fresh: a second restore onto the same name is refused.
    proc = _run(RESTORE, str(dumps[0]), target, env=env)
    assert proc.returncode != 0 and "already exists" in proc.stderr


def test_backup_failure_is_loud_and_writes_nothing(pg_dsn: str, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    env = _env(DATABASE_URL=with_db(pg_dsn, "pq_ops_no_such_db_x"), BACKUP_DIR=str(backups))
    proc = _run(BACKUP, env=env)
    assert proc.returncode != 0
    assert "backup.sh: ERROR: pg_dump failed" in proc.stderr
    assert not [p for p in backups.iterdir() if not p.name.startswith(".")]


def test_backup_needs_a_database(tmp_path: Path) -> None:
    proc = _run(BACKUP, env=_env(BACKUP_DIR=str(tmp_path)))
    assert proc.returncode != 0 and "DATABASE_URL" in proc.stderr
    proc = _run(BACKUP, env=_env(DATABASE_URL="postgresql://x@h/db", BACKUP_RETENTION_DAYS="two"))
    assert proc.returncode != 0 and "BACKUP_RETENTION_DAYS" in proc.stderr


def test_retention_removes_only_old_dumps(source_db: str, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    old = time.time() - 10 * 86400
    for name in ("platequeue-20200101T020000Z.dump", "platequeue-20200102T020000Z.dump",
                 "unrelated.txt"):
        (backups / name).write_text("x")
        os.utime(backups / name, (old, old))
    recent = backups / "platequeue-recent.dump"
    recent.write_text("x")
    env = _env(DATABASE_URL=source_db, BACKUP_DIR=str(backups), BACKUP_RETENTION_DAYS="7")
    proc = _run(BACKUP, env=env)
    assert proc.returncode == 0, proc.stderr
    left = sorted(p.name for p in backups.iterdir() if not p.name.startswith("."))
    assert "unrelated.txt" in left and "platequeue-recent.dump" in left
    assert not any(n.startswith("platequeue-2020") for n in left)
    assert len([n for n in left if n.endswith(".dump")]) == 2  # recent + the new one


def test_compose_mode_runs_inside_the_postgres_service(
    source_db: str, fresh_db_name: Callable[[], str], tmp_path: Path
) -> None:
    """--mode compose goes through `docker compose exec -T postgres ...` (faked here)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "docker.log"
    docker = bin_dir / "docker"
    # Drop "compose -f FILE exec -T postgres" and run the rest against the test server.
    docker.write_text(
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        f'echo "$*" >> {calls}\n'
        '[[ $1 == compose && $2 == -f && $4 == exec && $5 == -T && $6 == postgres ]] || exit 97\n'
        "shift 6\nexec \"$@\"\n"
    )
    docker.chmod(0o755)
    host = source_db.split("@", 1)[1].split("/", 1)[0]
    user = source_db.split("://", 1)[1].split("@", 1)[0]
    env = _env(
        PATH=f"{bin_dir}:{os.environ['PATH']}", PGHOST=host.split(":")[0],
        PGPORT=host.split(":")[1] if ":" in host else "5432",
        POSTGRES_USER=user, POSTGRES_DB=source_db.rsplit("/", 1)[1],
        COMPOSE_FILE=str(TEMPLATES.parent / "compose.yaml"), BACKUP_DIR=str(tmp_path / "b"),
    )
    proc = _run(BACKUP, "--mode", "compose", env=env)
    assert proc.returncode == 0, proc.stderr
    (dump,) = (tmp_path / "b").glob("platequeue-*.dump")
    target = fresh_db_name()
    proc = _run(RESTORE, "--mode", "compose", str(dump), target, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _snapshot(with_db(source_db, target)) == _snapshot(source_db)
    log = calls.read_text()
    assert "exec -T postgres pg_dump" in log and "exec -T postgres pg_restore" in log
