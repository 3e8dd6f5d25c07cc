"""Per-user quotas on every entry (service, API, page): the (N+1)th submission is refused with
429 and a retry time, nothing is queued, and the refusal is audited."""

from __future__ import annotations

import dataclasses
import time

import pytest
import redis
from sqlalchemy import func, select, update

from platequeue import accounts, runs
from platequeue.accounts import quotas, tokens
from platequeue.store import AuditEvent, Run, session_scope
from tests.web.pages_fixtures import Web, csrf_of, web

__all__ = ["web"]


def _limit(w: Web, **values: int) -> None:
    w.platform.settings = dataclasses.replace(w.platform.settings, **values)


def _counts(w: Web) -> tuple[int, int, int]:
    """Runs in the store, well messages on the broker, quota refusals audited."""
    with session_scope(w.platform.audit) as s:
        n_runs = int(s.scalar(select(func.count()).select_from(Run)) or 0)
        refused = int(s.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action == "quota_refused")) or 0)
    client = redis.Redis.from_url(w.stack.env["REDIS_URL"])
    return n_runs, int(client.llen("cpu")) + int(client.llen("gpu")), refused


def test_concurrent_runs_quota_on_the_api(web: Web) -> None:
    _limit(web, quota_concurrent_runs=2, quota_submissions_per_minute=100)
    user = accounts.ensure_user(web.platform, "demo")
    hdr = {"Authorization": "Bearer " + tokens.create(web.platform, user.id, name="q",
                                                      scope="submit", days=1)}
    c = web.app.test_client()
    body = {"plate_id": web.demo_plate, "pipeline": "noop"}
    assert c.post("/api/runs", json=body, headers=hdr).status_code == 201
    assert c.post("/api/runs", json=body, headers=hdr).status_code == 201
    before = _counts(web)
    r = c.post("/api/runs", json=body, headers=hdr)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == str(quotas.ACTIVE_RETRY_S)
    msg = r.get_json()["error"]
    assert "2 active runs (limit 2)" in msg and f"retry in {quotas.ACTIVE_RETRY_S} s" in msg
    after = _counts(web)
    assert after[:2] == before[:2] and after[2] == before[2] + 1
    with session_scope(web.platform.audit) as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "quota_refused")).one()
        assert ev.detail["reason"] == "concurrent_runs" and ev.actor == "token:demo"
    # another user is not affected; a run that ends frees a slot
    other = runs.submit(web.platform, omename="alice", plate_id=web.demo_plate,
                        pipeline="noop")
    assert other.status == "queued"
    with session_scope(web.platform.audit) as s:
        first = s.scalar(select(Run.id).join(Run.user).where(Run.user.has(omename="demo"))
                         .order_by(Run.id).limit(1))
        s.execute(update(Run).where(Run.id == first).values(status="succeeded"))
    assert c.post("/api/runs", json=body, headers=hdr).status_code == 201


def test_rate_quota_refuses_the_next_submission_with_retry_time(web: Web) -> None:
    _limit(web, quota_concurrent_runs=100, quota_submissions_per_minute=3)
    for _ in range(3):
        runs.submit(web.platform, omename="demo", plate_id=web.demo_plate, pipeline="noop")
    before = _counts(web)
    with pytest.raises(quotas.QuotaExceeded) as info:
        runs.submit(web.platform, omename="demo", plate_id=web.demo_plate, pipeline="noop")
    assert info.value.status == 429 and 1 <= info.value.retry_after <= 60
    assert "3 runs in the last minute (limit 3 per minute)" in str(info.value)
    assert f"retry in {info.value.retry_after} s" in str(info.value)
    after = _counts(web)
    assert after[:2] == before[:2] and after[2] == before[2] + 1
    # the page refuses the same way, with the message and Retry-After, input kept
    c = web.client("demo")
    token = csrf_of(c.get("/submit").get_data(as_text=True))
    r = c.post("/submit", data={"csrf_token": token, "plate": str(web.demo_plate),
                                "pipeline": "noop", "action": "queue"})
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    html = r.get_data(as_text=True)
    assert "limit 3 per minute" in html and "retry in" in html
    assert _counts(web)[:2] == before[:2]


def test_sliding_window_frees_slots_as_they_age(web: Web) -> None:
    _limit(web, quota_concurrent_runs=100, quota_submissions_per_minute=2)
    user = accounts.ensure_user(web.platform, "demo")
    t0 = time.time()
    quotas.check_submit(web.platform, user, actor="t", now=t0)
    quotas.check_submit(web.platform, user, actor="t", now=t0 + 20)
    with pytest.raises(quotas.QuotaExceeded) as info:
        quotas.check_submit(web.platform, user, actor="t", now=t0 + 30)
    assert info.value.retry_after == 30  # the first slot ages out at t0 + 60
    # a refused attempt took no slot: at t0 + 61 exactly one slot is free again
    quotas.check_submit(web.platform, user, actor="t", now=t0 + 61)
    with pytest.raises(quotas.QuotaExceeded):
        quotas.check_submit(web.platform, user, actor="t", now=t0 + 62)
