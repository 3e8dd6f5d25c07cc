"""Attacks on quotas: parallel submissions racing past the concurrent-run limit (threads on
real PostgreSQL and on SQLite, parallel HTTP requests), and reruns skipping the checks a
submission passes (quota, disabled pipeline, developer role for custom steps)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select

from platequeue import accounts, runs
from platequeue.accounts import pipeline_admin, quotas, tokens, users
from platequeue.errors import PlatequeueError
from platequeue.platform import Platform, get_platform, set_platform
from platequeue.store import Run, RunStatus, session_scope
from platequeue.testing import served
from tests.security.conftest import Matrix

LIMIT = 4
PARALLEL = 12


def _limited(m: Matrix, **changes: Any) -> Platform:
    values = {"quota_concurrent_runs": LIMIT, "quota_submissions_per_minute": 1000, **changes}
    return Platform(dataclasses.replace(m.platform.settings, **values))


def _active(p: Platform, omename: str) -> int:
    with session_scope(p.audit) as s:
        return int(s.scalar(select(func.count()).select_from(Run).join(Run.user).where(
            Run.user.has(omename=omename),
            Run.status.in_((RunStatus.QUEUED.value, RunStatus.RUNNING.value)))) or 0)


def _race(n: int, call: Callable[[], Any]) -> list[Any]:
    """*call* from *n* threads released together; each result or exception."""
    barrier = threading.Barrier(n)

    def one() -> Any:
        barrier.wait()
        try:
            return call()
        except PlatequeueError as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: one(), range(n)))


def test_parallel_submits_exceed_concurrent_quota_on_postgresql(matrix: Matrix) -> None:
    p = _limited(matrix)
    assert p.audit.dialect.name == "postgresql"
    got = _race(PARALLEL, lambda: runs.submit(p, omename="developer-out",
                                              plate_id=matrix.plates["public"],
                                              pipeline="noop"))
    accepted = [r for r in got if isinstance(r, runs.RunView)]
    refused = [r for r in got if isinstance(r, quotas.QuotaExceeded)]
    assert len(accepted) == LIMIT and len(refused) == PARALLEL - LIMIT, got
    assert _active(p, "developer-out") == LIMIT


def test_parallel_submits_exceed_concurrent_quota_on_sqlite(matrix: Matrix,
                                                            tmp_path: Path) -> None:
    from platequeue.store import upgrade

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    p = _limited(matrix, database_url=url)
    assert p.audit.dialect.name == "sqlite"
    accounts.ensure_user(p, "operator-out")
    got = _race(PARALLEL, lambda: runs.submit(p, omename="operator-out",
                                              plate_id=matrix.plates["public"],
                                              pipeline="noop"))
    accepted = [r for r in got if isinstance(r, runs.RunView)]
    assert len(accepted) == LIMIT, got
    assert all(isinstance(r, quotas.QuotaExceeded) for r in got if r not in accepted), got
    assert _active(p, "operator-out") == LIMIT


@contextmanager
def _app_for(p: Platform) -> Iterator[Any]:
    from web import create_app

    previous = get_platform()
    try:
        app = create_app({"TESTING": True}, platform=p)
        yield app
    finally:
        set_platform(previous)


def test_parallel_http_submits_exceed_concurrent_quota(matrix: Matrix) -> None:
    p = _limited(matrix)
    hdr = matrix.bearer("admin-out")
    body = {"plate_id": matrix.plates["public"], "pipeline": "noop"}
    with _app_for(p) as app, served(app) as url:
        got = _race(PARALLEL, lambda: requests.post(f"{url}/api/runs", json=body,
                                                    headers=hdr, timeout=120).status_code)
    assert sorted(got) == [201] * LIMIT + [429] * (PARALLEL - LIMIT), got
    assert _active(p, "admin-out") == LIMIT


def _failed_run(m: Matrix, owner: str, **extra: Any) -> int:
    run_id = m.run(owner, "public", "failed")
    if extra:
        with session_scope(m.platform.audit) as s:
            run = s.get(Run, run_id)
            for key, value in extra.items():
                setattr(run, key, value)
    return run_id


def test_rerun_bypasses_concurrent_quota(matrix: Matrix) -> None:
    p = _limited(matrix, quota_concurrent_runs=1)
    runs.submit(p, omename="user-out", plate_id=matrix.plates["public"], pipeline="noop")
    run_id = _failed_run(matrix, "user-out")
    with _app_for(p) as app:
        r = app.test_client().post(f"/api/runs/{run_id}/rerun-failed",
                                   headers=matrix.bearer("user-out"))
    assert r.status_code == 429 and "active runs" in r.get_json()["error"]
    assert runs.status(p, run_id).status == "failed"


def test_rerun_bypasses_disabled_pipeline(matrix: Matrix) -> None:
    run_id = _failed_run(matrix, "user-in")
    pipeline_admin.set_enabled(matrix.platform, "nuclei-count", False, actor="test")
    try:
        r = matrix.app.test_client().post(f"/api/runs/{run_id}/rerun-failed",
                                          headers=matrix.bearer("user-in"))
    finally:
        pipeline_admin.set_enabled(matrix.platform, "nuclei-count", True, actor="test")
    assert r.status_code == 409 and "disabled" in r.get_json()["error"]
    assert runs.status(matrix.platform, run_id).status == "failed"


def test_rerun_bypasses_developer_role_for_custom_step(matrix: Matrix) -> None:
    from platequeue.runs import custom_steps

    p = _limited(matrix, quota_concurrent_runs=100, custom_steps=True)
    owner = accounts.ensure_user(p, "developer-in")
    art = custom_steps.store(p, owner, "mean_c0", b"not really dill, never unpickled here")
    run_id = _failed_run(matrix, "developer-in", custom_step_id=art.id, queue="custom")
    users.set_role(p, "developer-in", "user", actor="test")  # trust withdrawn
    try:
        with _app_for(p) as app:
            r = app.test_client().post(f"/api/runs/{run_id}/rerun-failed",
                                       headers=matrix.bearer("developer-in"))
    finally:
        users.set_role(p, "developer-in", "developer", actor="test")
    assert r.status_code == 403 and "developer role" in r.get_json()["error"]
    assert runs.status(p, run_id).status == "failed"


def test_rerun_of_unreadable_plate_by_admin_owner(matrix: Matrix) -> None:
    """An admin may act on any run, but a rerun still needs its owner to read the plate."""
    run_id = matrix.run("admin-out", "private", "failed")
    r = matrix.app.test_client().post(f"/api/runs/{run_id}/rerun-failed",
                                      headers=matrix.bearer("admin-out"))
    assert r.status_code == 404 and runs.status(matrix.platform, run_id).status == "failed"


def test_read_token_cannot_rerun_via_api(matrix: Matrix) -> None:
    run_id = _failed_run(matrix, "user-in")
    user = accounts.ensure_user(matrix.platform, "user-in")
    token = tokens.create(matrix.platform, user.id, name="r", scope="read", days=1)
    r = matrix.app.test_client().post(f"/api/runs/{run_id}/rerun-failed",
                                      headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and runs.status(matrix.platform, run_id).status == "failed"
