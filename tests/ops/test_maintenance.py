"""Token and session cleanup, OMERO session keep-alive, retention: exactly what is due."""

from __future__ import annotations

import time
from datetime import timedelta

import redis
from sqlalchemy import func, select, update

from platequeue import accounts, runs, schedules
from platequeue.omero import keepalive
from platequeue.ops import maintenance
from platequeue.platform import Platform, set_platform
from platequeue.settings import load_settings
from platequeue.store import ApiToken, AuditEvent, Measurement, Run, WellTask, session_scope, utcnow
from tests.conftest import Stack
from tests.schedules._support import FAR_CRON, audits, make_due


def test_expired_tokens_removed_exactly(stack: Stack) -> None:
    platform = stack.platform()
    user = accounts.ensure_user(platform, "demo")
    now = utcnow()
    with session_scope(platform.audit) as s:
        for name, expires, revoked in (("old", now - timedelta(seconds=1), False),
                                       ("live", now + timedelta(days=1), False),
                                       ("revoked", now + timedelta(days=1), True)):
            s.add(ApiToken(user_id=user.id, name=name, token_hash=name * 8, scopes="read",
                           expires_at=expires, revoked=revoked))
    assert maintenance.remove_expired_tokens(platform) == 1
    assert maintenance.remove_expired_tokens(platform) == 0  # idempotent
    with session_scope(platform.audit) as s:
        assert sorted(s.scalars(select(ApiToken.name))) == ["live", "revoked"]


def test_web_sessions_expire_by_ttl_and_none_lives_forever(stack: Stack) -> None:
    platform = stack.platform()
    r: redis.Redis = platform.redis
    r.set("platequeue:session:short", "{}", ex=1)
    r.set("platequeue:session:long", "{}", ex=3600)
    r.set("platequeue:session:forever", "{}")
    r.set("platequeue:unrelated", "x")
    time.sleep(1.5)
    assert not r.exists("platequeue:session:short")  # Redis removed it: nothing to clean
    assert maintenance.bound_web_sessions(platform) == 1
    assert 0 < r.ttl("platequeue:session:forever") <= platform.settings.session_ttl
    assert 3500 < r.ttl("platequeue:session:long") <= 3600
    assert r.ttl("platequeue:unrelated") == -1
    assert maintenance.cleanup(platform) == {"tokens": 0, "sessions_bounded": 0}


class RecordingServer:
    """Test double for the remote OMERO server only (none runs here): records the calls."""

    def __init__(self, dead: frozenset[str] = frozenset()) -> None:
        self.kept: list[str] = []
        self.closed: list[str] = []
        self.dead = dead

    def keep_alive(self, session_key: str) -> bool:
        self.kept.append(session_key)
        return session_key not in self.dead

    def close(self, session_key: str) -> None:
        self.closed.append(session_key)


def _runs_with_states(stack: Stack, platform: Platform, states: list[tuple[str, int | None]]
                      ) -> list[int]:
    """Runs (no worker: they stay put) forced into (status, minutes since they ended)."""
    ids = []
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    for status, ended_min_ago in states:
        view = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="noop")
        finished = None if ended_min_ago is None else utcnow() - timedelta(minutes=ended_min_ago)
        with session_scope(platform.audit) as s:
            s.execute(update(Run).where(Run.id == view.run_id)
                      .values(status=status, finished_at=finished))
        ids.append(view.run_id)
    return ids


def test_keepalive_touches_only_active_runs(stack: Stack) -> None:
    platform = Platform(load_settings({**stack.env, "QUOTA_CONCURRENT_RUNS": "20",
                                       "OMERO_KEEPALIVE_INTERVAL": "300"}))
    set_platform(platform)
    running, queued, old_own, old_user, just_ended, no_session, lost = _runs_with_states(
        stack, platform, [("running", None), ("queued", None), ("succeeded", 60),
                          ("failed", 60), ("succeeded", 1), ("running", None),
                          ("running", None)])
    for run_id in (running, queued, old_user, just_ended, lost):
        runs.attach_omero_session(platform, run_id, f"key-{run_id}")
    runs.attach_omero_session(platform, old_own, f"key-{old_own}", opened_by_platform=True)
    server = RecordingServer(dead=frozenset({f"key-{lost}"}))
    report = maintenance.omero_sessions(platform, server=server)
    assert sorted(server.kept) == sorted(f"key-{i}" for i in (running, queued, lost))
    assert server.closed == [f"key-{old_own}"]  # the user's own session is never closed
    assert sorted(report.kept) == sorted([running, queued])
    assert report.lost == [lost] and report.waiting == [just_ended]
    assert sorted(report.released) == sorted([old_own, old_user])
    r = platform.redis
    left = sorted(int(k.decode().rsplit(":", 1)[1])
                  for k in r.scan_iter(match=keepalive.PREFIX + "*"))
    assert left == sorted([running, queued, just_ended])
    assert no_session not in report.kept
    assert r.ttl(keepalive.PREFIX + str(running)) > platform.settings.visibility_timeout - 10
    with session_scope(platform.audit) as s:  # the key never reaches the audit store
        assert not any("key-" in str(a.detail) for a in s.scalars(select(AuditEvent)))
    assert keepalive.server_for(platform.settings) is None  # OMERO_HOST unset: no server


def _measurements(platform: Platform, run_id: int) -> int:
    with session_scope(platform.audit) as s:
        return int(s.scalar(select(func.count()).select_from(Measurement)
                            .where(Measurement.run_id == run_id)) or 0)


def test_retention_removes_exactly_old_unreferenced_runs(stack: Stack) -> None:
    platform = Platform(load_settings({**stack.env, "RETENTION_DAYS": "30",
                                       "QUOTA_CONCURRENT_RUNS": "20"}))
    set_platform(platform)
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    sch = schedules.create(platform, omename="demo", name="keep", cron=FAR_CRON,
                           target_kind="plate", target_id=plate.id, pipeline="noop")
    make_due(platform, sch.id)
    schedules.tick(platform)
    referenced = schedules.get(platform, sch.id).last_run_id
    assert referenced is not None
    old, recent, old_running = _runs_with_states(
        stack, platform, [("succeeded", 40 * 24 * 60), ("succeeded", 10 * 24 * 60),
                          ("running", None)])
    with session_scope(platform.audit) as s:
        s.execute(update(Run).where(Run.id == referenced)
                  .values(status="succeeded", finished_at=utcnow() - timedelta(days=40)))
        s.execute(update(Run).where(Run.id == old_running)
                  .values(created_at=utcnow() - timedelta(days=40)))
        for run_id in (old, recent, referenced, old_running):
            s.add(Measurement(run_id=run_id, well_id=1, field=0, image_id=1, feature="count",
                              value=1.0))
    assert runs.retention(platform) == {"runs": 1, "wells": 96, "measurements": 1}
    assert runs.retention(platform) == {"runs": 0, "wells": 0, "measurements": 0}
    assert [_measurements(platform, i) for i in (old, recent, referenced, old_running)] == \
        [0, 1, 1, 1]
    with session_scope(platform.audit) as s:
        wells = dict(s.execute(select(WellTask.run_id, func.count())
                               .group_by(WellTask.run_id)).all())
        purged = s.get(Run, old)
        assert purged is not None and purged.purged_at is not None  # the run row stays
    assert old not in wells and all(wells[i] == 96 for i in (recent, referenced, old_running))
    events = audits(platform, "retention")
    assert [(e.run_id, e.detail["measurements"], e.detail["wells"]) for e in events] == \
        [(old, 1, 96)]
    off = Platform(load_settings({**stack.env, "RETENTION_DAYS": "0"}))
    assert runs.retention(off) == {"runs": 0, "wells": 0, "measurements": 0}
