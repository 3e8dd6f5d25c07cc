"""/metrics (values move with a run), log context on a well's lines, and schedules through
the API, the page (CSRF) and the CLI."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from platequeue import accounts, runs
from platequeue.accounts import tokens
from platequeue.testing import free_port
from tests.conftest import wait_for
from tests.schedules._support import FAR_CRON
from tests.web.pages_fixtures import Web, csrf_of, login, web  # noqa: F401


def _scrape(w: Web) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    res = w.app.test_client().get("/metrics")
    assert res.status_code == 200 and res.mimetype == "text/plain"
    out = {}
    for fam in text_string_to_metric_families(res.get_data(as_text=True)):
        for sample in fam.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.mark.slow
def test_metrics_move_with_a_run_and_well_logs_carry_context(web: Web) -> None:  # noqa: F811
    before = _scrape(web)
    names = {name for name, _labels in before}
    assert {"platequeue_runs", "platequeue_wells_finished_total", "platequeue_bytes_read_total",
            "platequeue_well_duration_seconds_count", "platequeue_queue_depth"} <= names
    assert before[("platequeue_runs", (("status", "succeeded"),))] == 0
    view = runs.submit(web.platform, omename="demo", plate_id=web.demo_plate,
                       pipeline="nuclei-count")
    queued = _scrape(web)
    assert queued[("platequeue_runs", (("status", "queued"),))] == 1
    assert queued[("platequeue_queue_depth", (("queue", "cpu"),))] > 0  # no worker yet
    port = free_port()
    web.stack.env["METRICS_PORT"] = str(port)
    web.stack.start_worker(concurrency=2)
    wait_for(lambda: runs.status(web.platform, view.run_id).status == "succeeded", 180, "run")
    after = _scrape(web)
    n = view.wells_total
    assert after[("platequeue_runs", (("status", "succeeded"),))] == 1
    assert after[("platequeue_wells_finished_total", (("status", "succeeded"),))] == n
    assert after[("platequeue_well_duration_seconds_count", ())] == n
    assert after[("platequeue_well_duration_seconds_sum", ())] > 0
    assert after[("platequeue_bytes_read_total", ())] > 0
    assert after[("platequeue_queue_depth", (("queue", "cpu"),))] == 0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as res:
        worker_text = res.read().decode()
    assert f'platequeue_worker_wells_finished_total{{status="succeeded"}} {float(n)}' in \
        worker_text

    log = "".join(p.read_text() for p in web.stack.home.glob("worker-*.log"))
    claimed = [line for line in log.splitlines() if "platequeue.runs._wellwork" in line
               and f"(run {view.run_id}," in line]
    assert len(claimed) >= n
    for line in claimed:
        found = re.search(r"\[run_id=(\d+) well=(\d+) user=(\d+)\]$", line)
        assert found and int(found.group(1)) == view.run_id, line


def test_schedules_api(web: Web) -> None:  # noqa: F811
    user = accounts.ensure_user(web.platform, "demo")
    token = tokens.create(web.platform, user.id, name="t", scope="submit", days=1)
    c = web.app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    body = {"cron": FAR_CRON, "timezone": "Europe/Berlin", "target_kind": "plate",
            "target_id": web.demo_plate, "pipeline": "noop", "name": "yearly"}
    created = c.post("/api/schedules", json=body, headers=auth)
    assert created.status_code == 201, created.get_json()
    sid = created.get_json()["id"]
    assert created.get_json()["next_fire_at"].startswith(("2026-12-31T23:00", "2027-12-31T23:00",
                                                          "2028-12-31T23:00"))
    bad = c.post("/api/schedules", json={**body, "cron": "every day"}, headers=auth)
    assert bad.status_code == 422 and "cron" in bad.get_json()["error"]
    assert [s["id"] for s in c.get("/api/schedules", headers=auth).get_json()] == [sid]
    assert c.get("/api/schedules").status_code == 401
    assert c.delete(f"/api/schedules/{sid}", headers=auth).status_code == 204
    assert c.delete(f"/api/schedules/{sid}", headers=auth).status_code == 404
    run = c.post("/api/runs", json={"plate_id": web.demo_plate, "pipeline": "noop",
                                    "incremental": True}, headers=auth)
    assert run.status_code == 201 and run.get_json()["wells_skipped"] == 0


def test_schedules_page_with_csrf(web: Web) -> None:  # noqa: F811
    c = web.client()
    csrf = login(c, "demo")
    page = c.get("/schedules")
    assert page.status_code == 200 and 'name="csrf_token"' in page.get_data(as_text=True)
    form = {"name": "nightly", "cron": "0 2 * * *", "timezone": "UTC", "target_kind": "plate",
            "target_id": str(web.demo_plate), "pipeline": "noop", "params": ""}
    assert c.post("/schedules", data=form).status_code == 403  # no CSRF token
    res = c.post("/schedules", data={**form, "csrf_token": csrf})
    assert res.status_code == 302
    html = c.get("/schedules").get_data(as_text=True)
    sid = int(re.search(r'data-schedule="(\d+)"', html).group(1))  # type: ignore[union-attr]
    assert "nightly" in html and "enabled" in html
    assert c.post(f"/schedules/{sid}/toggle", data={"csrf_token": csrf_of(html)}).status_code \
        == 302
    assert "paused" in c.get("/schedules").get_data(as_text=True)
    bad = c.post("/schedules", data={**form, "cron": "61 * * * *", "csrf_token": csrf})
    assert bad.status_code == 422 and "cron" in bad.get_data(as_text=True)
    assert c.post(f"/schedules/{sid}/delete", data={"csrf_token": csrf}).status_code == 302
    assert "No schedules yet" in c.get("/schedules").get_data(as_text=True)


def test_schedule_cli(web: Web) -> None:  # noqa: F811
    stack = web.stack
    res = stack.cli("schedule", "create", "--user", "demo", "--cron", FAR_CRON, "--tz",
                    "America/New_York", "--plate", str(web.demo_plate), "--pipeline", "noop",
                    "--json", check=True)
    sid = json.loads(res.stdout)["id"]
    listed = stack.cli("schedule", "list", "--json", check=True)
    assert [s["id"] for s in json.loads(listed.stdout)] == [sid]
    refused = stack.cli("schedule", "create", "--user", "demo", "--cron", FAR_CRON, "--tz",
                        "Nowhere/Land", "--plate", str(web.demo_plate), "--pipeline", "noop")
    assert refused.returncode == 1 and "Nowhere/Land" in refused.stderr
    assert stack.cli("schedule", "delete", str(sid), "--user", "alice").returncode == 1
    stack.cli("schedule", "delete", str(sid), "--user", "demo", check=True)
    assert json.loads(stack.cli("schedule", "list", "--json", check=True).stdout) == []
