"""Attacks on scope and role: a read-scope token acting through the HTML routes, an operator
changing other people's runs through the API, an operator reading pixels OMERO hides."""

from __future__ import annotations

from sqlalchemy import func, select, update

from platequeue import accounts, runs, schedules
from platequeue.accounts import pipeline_admin, tokens
from platequeue.store import Run, Schedule, WellTask, session_scope
from tests.security.conftest import Matrix
from tests.web.pages_fixtures import Web, csrf_of, finish_run, set_role, submit


def _read_token(w: Web, omename: str) -> dict[str, str]:
    user = accounts.ensure_user(w.platform, omename)
    return {"Authorization": "Bearer " + tokens.create(w.platform, user.id, name="r",
                                                       scope="read", days=1)}


def _runs(w: Web) -> int:
    with session_scope(w.platform.audit) as s:
        return int(s.scalar(select(func.count()).select_from(Run)) or 0)


def _failed_run(w: Web, omename: str) -> int:
    run_id = submit(w.platform, omename, w.demo_plate)
    finish_run(w.platform, run_id)
    with session_scope(w.platform.audit) as s:
        s.execute(update(WellTask).where(WellTask.run_id == run_id, WellTask.label == "A1")
                  .values(status="failed", error="ValueError: corrupt plane"))
        s.execute(update(Run).where(Run.id == run_id)
                  .values(status="partial", wells_done=95, wells_failed=1))
    return run_id


def _status(w: Web, run_id: int) -> str:
    return runs.status(w.platform, run_id).status


def test_read_token_cannot_submit_via_page(web: Web) -> None:
    hdr = _read_token(web, "demo")
    c = web.app.test_client()
    assert c.get("/submit", headers=hdr).status_code == 200  # reading the form is fine
    r = c.post("/submit", headers=hdr, data={"plate": str(web.demo_plate),
                                             "pipeline": "nuclei-count", "action": "queue"})
    assert r.status_code == 403 and "may only read" in r.get_data(as_text=True)
    assert _runs(web) == 0


def test_read_token_cannot_cancel_via_page(web: Web) -> None:
    run_id = submit(web.platform, "demo", web.demo_plate)
    r = web.app.test_client().post(f"/runs/{run_id}/cancel", headers=_read_token(web, "demo"))
    assert r.status_code == 403 and _status(web, run_id) == "queued"


def test_read_token_cannot_rerun_via_page(web: Web) -> None:
    run_id = _failed_run(web, "demo")
    r = web.app.test_client().post(f"/runs/{run_id}/rerun-failed",
                                   headers=_read_token(web, "demo"))
    assert r.status_code == 403 and _status(web, run_id) == "partial"


def test_read_token_cannot_create_schedule_via_page(web: Web) -> None:
    r = web.app.test_client().post("/schedules", headers=_read_token(web, "demo"), data={
        "cron": "0 2 * * *", "target_kind": "plate", "target_id": str(web.demo_plate),
        "pipeline": "nuclei-count"})
    assert r.status_code == 403
    with session_scope(web.platform.audit) as s:
        assert s.scalar(select(func.count()).select_from(Schedule)) == 0


def test_read_token_cannot_delete_or_pause_schedule_via_page(web: Web) -> None:
    sch = schedules.create(web.platform, omename="demo", name="n", cron="0 2 * * *",
                           target_kind="plate", target_id=web.demo_plate,
                           pipeline="nuclei-count", params={}, channels={})
    hdr = _read_token(web, "demo")
    c = web.app.test_client()
    assert c.post(f"/schedules/{sch.id}/toggle", headers=hdr).status_code == 403
    assert c.post(f"/schedules/{sch.id}/delete", headers=hdr).status_code == 403
    assert schedules.get(web.platform, sch.id).enabled


def test_admin_read_token_cannot_switch_pipelines_via_page(web: Web) -> None:
    r = web.app.test_client().post("/ops/pipelines", headers=_read_token(web, "facility"),
                                   data={"name": "nuclei-count", "enabled": "false"})
    assert r.status_code == 403
    assert "nuclei-count" not in pipeline_admin.disabled(web.platform)


def test_read_token_cannot_submit_via_api(web: Web) -> None:
    r = web.app.test_client().post("/api/runs", headers=_read_token(web, "demo"),
                                   json={"plate_id": web.demo_plate, "pipeline": "noop"})
    assert r.status_code == 403 and _runs(web) == 0


def test_operator_cannot_cancel_via_api(web: Web) -> None:
    run_id = submit(web.platform, "demo", web.demo_plate)
    set_role(web.platform, "lead", "operator")
    user = accounts.ensure_user(web.platform, "lead")
    hdr = {"Authorization": "Bearer " + tokens.create(web.platform, user.id, name="o",
                                                      scope="submit", days=1)}
    c = web.app.test_client()
    assert c.get(f"/api/runs/{run_id}", headers=hdr).status_code == 200  # sees it
    r = c.post(f"/api/runs/{run_id}/cancel", headers=hdr)
    assert r.status_code == 403 and "owner or an admin" in r.get_json()["error"]
    assert _status(web, run_id) == "queued"


def test_operator_cannot_rerun_via_api(web: Web) -> None:
    run_id = _failed_run(web, "demo")
    set_role(web.platform, "lead", "operator")
    user = accounts.ensure_user(web.platform, "lead")
    hdr = {"Authorization": "Bearer " + tokens.create(web.platform, user.id, name="o",
                                                      scope="submit", days=1)}
    r = web.app.test_client().post(f"/api/runs/{run_id}/rerun-failed", headers=hdr)
    assert r.status_code == 403 and _status(web, run_id) == "partial"


def test_operator_cannot_cancel_via_page(web: Web) -> None:
    run_id = submit(web.platform, "demo", web.demo_plate)
    set_role(web.platform, "lead", "operator")
    op = web.client("lead")
    token = csrf_of(op.get("/plates").get_data(as_text=True))
    assert op.post(f"/runs/{run_id}/cancel", data={"csrf_token": token}).status_code == 403
    assert _status(web, run_id) == "queued"


def test_operator_outside_private_group_gets_no_preview(matrix: Matrix) -> None:
    run_id = matrix.run("private-owner", "private")
    client, _ = matrix.browser("operator-out")
    assert client.get(f"/runs/{run_id}").status_code == 200  # the run, read-only
    r = client.get(f"/runs/{run_id}/wells/A1/fields/0/preview.png")
    assert r.status_code == 403 and r.mimetype != "image/png"
    admin, _ = matrix.browser("admin-out")
    ok = admin.get(f"/runs/{run_id}/wells/A1/fields/0/preview.png")
    assert ok.status_code == 200 and ok.data.startswith(b"\x89PNG")


def test_user_cannot_see_another_users_run_in_a_shared_group(matrix: Matrix) -> None:
    run_id = matrix.run("read-write-owner", "read-write")
    client, _ = matrix.browser("user-in")  # a member who may read the plate itself
    assert client.get(f"/runs/{run_id}").status_code == 404
    assert matrix.app.test_client().get(f"/api/runs/{run_id}",
                                        headers=matrix.bearer("user-in")).status_code == 404
