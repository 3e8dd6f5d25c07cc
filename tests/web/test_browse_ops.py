"""Browsing and operator pages on real PostgreSQL and Redis: plates with thumbnails, last
runs and acquisitions; the live queue overview's numbers; the audit log's filters; the
schedules page's picker, local next firing and kept input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from platequeue.store import AuditEvent, WellTask, session_scope
from tests.web.pages_fixtures import Web, csrf_of, finish_run, login, set_role, submit, web

__all__ = ["web"]


@pytest.mark.full_fixture
def test_plates_list_thumbnails_last_runs_and_acquisitions(web: Web) -> None:
    m = web.stack.manifest  # type: ignore[attr-defined]
    gaps = next(p for p in m.plates if p.name == "384 plate with gaps")
    run_id = submit(web.platform, "demo", web.demo_plate, pipeline="noop")
    finish_run(web.platform, run_id)
    c = web.client("demo")
    html = c.get("/plates").get_data(as_text=True)
    assert f'src="/plates/{web.demo_plate}/thumbnail.png"' in html
    card = html.split(f'data-plate="{web.demo_plate}"', 1)[1].split("</article>", 1)[0]
    assert f'data-last-run="{run_id}"' in card and ">succeeded<" in card and "noop" in card
    assert "No acquisitions recorded" in card
    gaps_card = html.split(f'data-plate="{gaps.id}"', 1)[1].split("</article>", 1)[0]
    dash = "\u2013"
    assert (f"3 acquisitions: 2024-03-05 10:00{dash}10:50 UTC … 2024-03-05 12:00{dash}12:50 UTC"
            in gaps_card)
    assert "Not analysed yet" in gaps_card
    page = c.get(f"/plates/{gaps.id}").get_data(as_text=True)
    assert page.count("<tr data-acquisition=") == 3 and "Run 2" in page
    # another user of the lab does not see demo's run as theirs
    alice = web.client("alice").get("/plates").get_data(as_text=True)
    assert f'data-last-run="{run_id}"' not in alice
    # an operator sees everyone's last run
    set_role(web.platform, "lead", "operator")
    assert f'data-last-run="{run_id}"' in web.client("lead").get("/plates").get_data(as_text=True)


def test_queue_json_throughput_oldest_waiting_and_active_runs(web: Web) -> None:
    done = submit(web.platform, "alice", web.demo_plate, pipeline="noop")
    finish_run(web.platform, done)  # 96 wells ended just now
    waiting = submit(web.platform, "demo", web.demo_plate)
    old = datetime.now(UTC) - timedelta(minutes=7)
    with session_scope(web.platform.audit) as s:
        s.execute(update(WellTask).where(WellTask.run_id == waiting, WellTask.label == "D5")
                  .values(dispatched_at=old))
    set_role(web.platform, "lead", "operator")
    c = web.client("lead")
    data = c.get("/ops/queue.json").get_json()
    assert data["ended_recently"] == 96 and data["wells_per_minute"] == pytest.approx(9.6)
    assert data["oldest"]["run_id"] == waiting and data["oldest"]["well"] == "D5"
    assert 400 < data["oldest"]["seconds"] < 600 and data["oldest"]["user"] == "demo"
    assert [r["run_id"] for r in data["active"]] == [waiting]
    assert data["active"][0]["url"] == f"/runs/{waiting}"
    html = c.get("/ops/queue").get_data(as_text=True)
    assert '<b id="throughput">9.6</b>' in html
    assert f'oldest waiting well: D5 of <a href="/runs/{waiting}">run {waiting}</a>' in html
    assert f'<tr data-run="{waiting}"><td><a href="/runs/{waiting}">' in html
    assert 'src="/static/queue.js"' in html
    # no Flower listens and no proxy is in front: no dead link
    assert '<p id="flower-link" class="muted" hidden>' in html
    proxied = c.get("/ops/queue", headers={"X-Forwarded-For": "10.0.0.1"}).get_data(as_text=True)
    assert '<a href="/flower/">Flower</a>' in proxied
    assert web.client("demo").get("/ops/queue.json").status_code == 403


def test_audit_filters_by_user_run_action_and_date(web: Web) -> None:
    now = datetime.now(UTC)
    with session_scope(web.platform.audit) as s:
        s.add_all([
            AuditEvent(actor="session:demo", action="submit", run_id=7, detail={"n": 1}),
            AuditEvent(actor="token:demo", action="cancel", run_id=7, detail={"n": 2}),
            AuditEvent(actor="session:alice", action="submit", run_id=8, detail={"n": 3}),
            AuditEvent(actor="demo", action="submit", run_id=9, detail={"n": 4},
                       at=now - timedelta(days=3)),
            AuditEvent(actor="session:demo_x", action="submit", run_id=10, detail={"n": 5}),
        ])
    admin = web.client("facility")

    def found(query: str) -> list[str]:
        r = admin.get(f"/ops/audit?{query}")
        assert r.status_code == 200, query
        return re.findall(r'<span class="pill">n=(\d)</span>', r.get_data(as_text=True))

    assert sorted(found("user=demo")) == ["1", "2", "4"]
    assert found("run=7") == ["2", "1"]
    assert sorted(found("action=submit&user=demo")) == ["1", "4"]
    today = now.date().isoformat()
    assert sorted(found(f"user=demo&from={today}")) == ["1", "2"]
    early = (now - timedelta(days=3)).date().isoformat()
    assert found(f"user=demo&from={early}&to={early}") == ["4"]
    html = admin.get("/ops/audit?user=demo&run=7").get_data(as_text=True)
    assert 'value="demo"' in html and 'value="7"' in html and "2 events" in html
    bad = admin.get("/ops/audit?run=abc&from=yesterday")
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "run &#39;abc&#39; is not a run number" in text and "is not YYYY-MM-DD" in text


def test_schedules_page_picker_local_time_and_kept_input(web: Web) -> None:
    c = web.client()
    csrf = login(c, "demo")
    html = c.get("/schedules").get_data(as_text=True)
    assert '<a href="/schedules" class="here">Schedules</a>' in html
    assert f'<option value="plate:{web.demo_plate}"' in html
    assert '<optgroup label="Screens (every plate)">' in html
    screen = web.platform.catalog.plate(web.demo_plate).screen_id  # type: ignore[union-attr]
    assert f'<option value="plate:{web.private_plate}"' not in html
    form = {"csrf_token": csrf, "name": "nightly berlin", "cron": "61 * * * *",
            "timezone": "Europe/Berlin", "target": f"screen:{screen}",
            "new_plates_only": "on", "pipeline": "field-qc", "params": "smooth.sigma=2"}
    bad = c.post("/schedules", data=form)
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert 'id="schedule-error"' in text and "cron" in text
    assert 'value="nightly berlin"' in text and 'value="61 * * * *"' in text
    assert 'value="Europe/Berlin"' in text and ">smooth.sigma=2</textarea>" in text
    assert f'<option value="screen:{screen}" selected>' in text
    assert 'name="new_plates_only" checked' in text
    assert '<option value="field-qc" selected>' in text
    ok = c.post("/schedules", data={**form, "cron": "0 2 * * *", "params": ""})
    assert ok.status_code == 302
    html = c.get("/schedules").get_data(as_text=True)
    assert "new plates only" in html
    cell = re.search(r'<td class="next-fire" data-utc="([^"]+)">([^<]+)</td>', html)
    assert cell is not None
    utc = datetime.fromisoformat(cell.group(1))
    assert cell.group(2).endswith(("CET", "CEST")) and " 02:00 " in cell.group(2)
    assert utc.hour in (0, 1)  # 02:00 in Berlin is 00:00 or 01:00 UTC
    csrf = csrf_of(html)
    assert csrf
