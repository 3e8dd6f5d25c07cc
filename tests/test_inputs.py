"""Bad input on every CLI and API entry: a clear error, a non-zero exit or 4xx, nothing queued."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import func, select

from platequeue.accounts import ensure_user, tokens
from platequeue.store import AuditEvent, Run, User, session_scope
from tests.conftest import Stack


def _nothing_queued(stack: Stack) -> None:
    with session_scope(stack.platform().audit) as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 0
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    assert client.llen("cpu") == 0 and client.llen("gpu") == 0


def _plates(stack: Stack) -> tuple[int, int]:
    m = stack.manifest  # type: ignore[attr-defined]
    demo = m.plates[0]
    private = next(p for p in m.plates if p.group_id != demo.group_id)
    return demo.id, private.id


@pytest.mark.parametrize(("args", "message"), [
    (["--user", "demo", "--plate", "999999", "--pipeline", "nuclei-count"], "no plate"),
    (["--user", "nobody", "--plate", "{demo}", "--pipeline", "nuclei-count"], "no OMERO"),
    (["--user", "demo", "--plate", "{demo}", "--pipeline", "no-such"], "no-such"),
    (["--user", "demo", "--plate", "{demo}", "--pipeline", "nuclei-count",
      "--param", "no_such_param=1"], "no_such_param"),
    (["--user", "demo", "--plate", "{demo}", "--pipeline", "nuclei-count",
      "--param", "oops"], "name=value"),
    (["--user", "demo", "--plate", "{private}", "--pipeline", "nuclei-count"], "may not read"),
    (["--user", "demo", "--plate", "abc", "--pipeline", "nuclei-count"], "abc"),
])
def test_cli_submit_refuses_bad_input(stack: Stack, args: list[str], message: str) -> None:
    demo, private = _plates(stack)
    args = [a.format(demo=demo, private=private) for a in args]
    res = stack.cli("submit", *args)
    assert res.returncode != 0
    assert message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    _nothing_queued(stack)


@pytest.mark.parametrize("cmd", [["status", "424242"], ["cancel", "424242"],
                                 ["rerun-failed", "424242"], ["results", "424242"]])
def test_cli_unknown_run(stack: Stack, cmd: list[str]) -> None:
    res = stack.cli(*cmd)
    assert res.returncode == 1 and "no run with id 424242" in res.stderr


def test_cli_plates_lists_only_readable(stack: Stack) -> None:
    import json

    demo, private = _plates(stack)
    res = stack.cli("plates", "--user", "demo", "--json", check=True)
    listed = {p["id"]: p for p in json.loads(res.stdout)}
    assert demo in listed and private not in listed
    assert listed[demo]["wells"] == 96 and listed[demo]["rows"] == 8
    res = stack.cli("plates", "--user", "outsider", "--json", check=True)
    assert private in {p["id"] for p in json.loads(res.stdout)}
    assert stack.cli("plates", "--user", "nobody").returncode != 0


def test_bad_settings_stop_with_one_line(stack: Stack) -> None:
    import subprocess
    import sys

    env = {**stack.env, "DATABASE_URL": "mysql://x"}
    res = subprocess.run([sys.executable, "-m", "platequeue.cli", "status", "1"], env=env,
                         capture_output=True, text=True, cwd=stack.env["PYTHONPATH"])
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "DATABASE_URL" in res.stderr


def test_api_errors_and_permissions(stack: Stack) -> None:
    from web import create_app

    platform = stack.platform()
    demo, private = _plates(stack)
    app = create_app(platform=platform)
    client = app.test_client()
    user = ensure_user(platform, "demo")
    submit_tok = tokens.create(platform, user.id, name="t", scope="submit", days=1)
    read_tok = tokens.create(platform, user.id, name="r", scope="read", days=1)
    hdr = {"Authorization": f"Bearer {submit_tok}"}

    assert client.get("/api/runs").status_code == 401
    r = client.get("/api/runs", headers={"Authorization": "Bearer pq_forged"})
    assert r.status_code == 401 and "token" in r.get_json()["error"]
    r = client.post("/api/runs", json={"plate_id": demo, "pipeline": "nuclei-count"},
                    headers={"Authorization": f"Bearer {read_tok}"})
    assert r.status_code == 403
    cases = [
        ({"plate_id": 999999, "pipeline": "nuclei-count"}, 404),
        ({"plate_id": private, "pipeline": "nuclei-count"}, 404),  # as if unknown
        ({"plate_id": demo, "pipeline": "nope"}, 422),
        ({"plate_id": "1", "pipeline": "nuclei-count"}, 422),
        ({"plate_id": demo, "pipeline": "nuclei-count", "params": {"sigma": "x"}}, 422),
        ({"plate_id": demo, "pipeline": "nuclei-count", "params": []}, 422),
    ]
    for body, code in cases:
        r = client.post("/api/runs", json=body, headers=hdr)
        assert r.status_code == code, (body, r.get_json())
        assert isinstance(r.get_json()["error"], str)
    assert client.post("/api/runs", data="not json", headers=hdr).status_code == 422
    assert client.get("/api/runs/4242", headers=hdr).status_code == 404
    _nothing_queued(stack)

    listed = client.get("/api/plates", headers=hdr).get_json()
    assert demo in {p["id"] for p in listed} and private not in {p["id"] for p in listed}

    # a cookie session must send the CSRF token with every POST
    with client.session_transaction() as sess:
        sess["user"] = {"id": user.id, "omename": "demo", "omero_user_id": user.omero_user_id,
                        "role": "user"}
        sess["csrf"] = "known"
    r = client.post("/api/runs", json={"plate_id": demo, "pipeline": "nuclei-count"})
    assert r.status_code == 403 and "CSRF" in r.get_json()["error"]
    _nothing_queued(stack)

    r = client.post("/api/runs", json={"plate_id": demo, "pipeline": "nuclei-count"},
                    headers={"X-CSRF-Token": "known"})
    assert r.status_code == 201, r.get_json()
    run_id = r.get_json()["run_id"]
    other = ensure_user(platform, "alice")
    alice = {"Authorization": "Bearer " + tokens.create(platform, other.id, name="a",
                                                        scope="submit", days=1)}
    assert client.get(f"/api/runs/{run_id}", headers=alice).status_code == 404
    mine = client.get("/api/runs", headers=hdr).get_json()
    assert [r["run_id"] for r in mine] == [run_id]
    assert mine[0]["wells_total"] == 96 and mine[0]["user"] == "demo"
    assert client.get("/api/runs", headers=alice).get_json() == []
    page = client.get("/runs")
    assert page.status_code == 200 and f'data-run="{run_id}"' in page.get_data(as_text=True)
    assert client.post(f"/api/runs/{run_id}/cancel", headers=alice).status_code == 404
    assert client.post(f"/api/runs/{run_id}/cancel", headers=hdr).status_code == 200
    assert client.post(f"/api/runs/{run_id}/cancel", headers=hdr).status_code == 409
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.get_json()["checks"]["omero_db"] == "ok"


def test_cli_user_role(stack: Stack) -> None:
    res = stack.cli("user", "role", "nobody", "admin")
    assert res.returncode != 0 and "no platform user 'nobody'" in res.stderr
    assert stack.cli("user", "role", "demo", "root").returncode == 2  # not a role
    platform = stack.platform()
    ensure_user(platform, "demo")
    assert stack.cli("user", "role", "demo", "operator", check=True).stdout.strip() == (
        "demo: user -> operator")
    with session_scope(platform.audit) as s:
        assert s.scalar(select(User.role).where(User.omename == "demo")) == "operator"
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "role-change")).one()
        assert event.detail == {"omename": "demo", "before": "user", "after": "operator"}
