"""Server-rendered pages on real PostgreSQL and Redis: what each user may see, the well grid,
the submit form (validation, dry run), the run page and its buttons, the operator pages."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from platequeue.omero import pixel_dtype
from platequeue.store import AuditEvent, Run, session_scope
from tests.web.pages_fixtures import Web, csrf_of, finish_run, login, set_role, submit, web

__all__ = ["web"]


def _runs(web: Web) -> int:
    with session_scope(web.platform.audit) as s:
        return int(s.scalar(select(func.count()).select_from(Run)) or 0)


def test_anonymous_is_sent_to_sign_in(web: Web) -> None:
    c = web.client()
    for path in ("/plates", f"/plates/{web.demo_plate}", "/submit", "/runs", "/runs/1",
                 "/ops/queue"):
        r = c.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path


def test_plates_grouped_by_screen_with_search(web: Web) -> None:
    c = web.client("demo")
    html = c.get("/plates").get_data(as_text=True)
    assert "Demo screen" in html and f'data-plate="{web.demo_plate}"' in html
    assert f'data-plate="{web.private_plate}"' not in html
    assert 'type="search"' in html
    found = c.get("/plates?q=no-such-plate").get_data(as_text=True)
    assert f'data-plate="{web.demo_plate}"' not in found and "No plates" in found
    found = c.get("/plates?q=demo%20PLATE").get_data(as_text=True)
    assert f'data-plate="{web.demo_plate}"' in found
    # the outsider reads only the other lab's plate
    html = web.client("outsider").get("/plates").get_data(as_text=True)
    assert f'data-plate="{web.private_plate}"' in html
    assert f'data-plate="{web.demo_plate}"' not in html


def test_plate_page_grid_fields_channels(web: Web) -> None:
    c = web.client("demo")
    r = c.get(f"/plates/{web.demo_plate}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert len(re.findall(r'class="well present" data-well=', html)) == 96
    assert 'class="well absent" data-well=' not in html
    assert 'data-well="A1"' in html and 'data-well="H12"' in html
    assert '<b id="n-fields">2</b>' in html
    truth = web.stack.manifest.plates[0]  # type: ignore[attr-defined]
    for ch in truth.channels:
        assert ch in html
    # the private plate of another group: not found for demo
    assert c.get(f"/plates/{web.private_plate}").status_code == 404
    assert c.get("/plates/987654").status_code == 404
    # a plate with gaps shows its absent wells: the outsider's plate has 2 wells on 96
    html = web.client("outsider").get(f"/plates/{web.private_plate}").get_data(as_text=True)
    assert html.count('class="well present" data-well=') == 2
    assert html.count('class="well absent" data-well=') == 94


def test_submit_form_keeps_input_and_marks_errors(web: Web) -> None:
    c = web.client("demo")
    form = c.get(f"/submit?plate={web.demo_plate}").get_data(as_text=True)
    assert 'name="p:smooth.sigma"' in form and 'value="1.5"' in form
    assert 'name="p:channels.nuclei"' in form
    data = {"csrf_token": csrf_of(form), "plate": str(web.demo_plate),
            "pipeline": "nuclei-count", "action": "queue",
            "p:smooth.sigma": "-3", "p:threshold.factor": "abc",
            "p:size_filter.min_size": "25", "p:background.method": "tophat"}
    r = c.post("/submit", data=data)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert re.search(r'id="e-f-smooth-sigma">must be &gt;= 0.0<', html)
    assert re.search(r'id="e-f-threshold-factor">must be a number<', html)
    assert 'value="-3"' in html and 'value="abc"' in html and 'value="25"' in html
    assert "<option selected>tophat</option>" in html
    assert f'name="plate" value="{web.demo_plate}" data-plates\n      checked' in html
    assert "e-f-size_filter-min_size" not in html
    assert _runs(web) == 0
    # an unknown channel name is refused beside its field
    data.update({"p:smooth.sigma": "2", "p:threshold.factor": "1", "p:channels.nuclei": "Cy9"})
    r = c.post("/submit", data=data)
    assert r.status_code == 422 and 'id="e-f-channels-nuclei"' in r.get_data(as_text=True)
    # no plate chosen
    r = c.post("/submit", data={**data, "plate": [], "p:channels.nuclei": ""})
    assert r.status_code == 422 and "choose at least one plate" in r.get_data(as_text=True)
    # without the CSRF token nothing happens
    r = c.post("/submit", data={k: v for k, v in data.items() if k != "csrf_token"})
    assert r.status_code == 403
    assert _runs(web) == 0


def test_submit_queues_with_params_and_channel(web: Web) -> None:
    c = web.client("demo")
    token = csrf_of(c.get("/submit").get_data(as_text=True))
    truth = web.stack.manifest.plates[0]  # type: ignore[attr-defined]
    r = c.post("/submit", data={"csrf_token": token, "plate": str(web.demo_plate),
                                "pipeline": "nuclei-count", "action": "queue",
                                "p:smooth.sigma": "2.5", "p:split.enabled": "false",
                                "p:channels.nuclei": truth.channels[0]})
    assert r.status_code == 303
    run_id = int(r.headers["Location"].rsplit("/", 1)[1])
    with session_scope(web.platform.audit) as s:
        run = s.get(Run, run_id)
        assert run is not None and run.params["smooth.sigma"] == 2.5
        assert run.params["channels.nuclei"] == truth.channels[0]
        assert run.wells_total == 96
    # a private plate id slipped into the form is refused
    r = c.post("/submit", data={"csrf_token": token, "plate": str(web.private_plate),
                                "pipeline": "nuclei-count", "action": "queue"})
    assert r.status_code == 422 and "may not read" in r.get_data(as_text=True)


def test_dry_run_matches_the_catalog(web: Web) -> None:
    c = web.client("demo")
    token = csrf_of(c.get("/submit").get_data(as_text=True))
    r = c.post("/submit", data={"csrf_token": token, "plate": str(web.demo_plate),
                                "pipeline": "nuclei-count", "action": "estimate"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    cat = web.platform.catalog
    wells = cat.wells(web.demo_plate)
    refs = [f for w in wells for f in w.fields]
    px = cat.pixels(refs[0].image_id)
    per_field = (px.size_x * px.size_y * px.size_z * px.size_c * px.size_t
                 * pixel_dtype(px.pixels_type).itemsize)
    assert len(wells) == 96 and len(refs) == 192
    assert f'class="num est-wells">{len(wells)}<' in html
    assert f'class="num est-fields">{len(refs)}<' in html
    assert f'data-bytes="{len(refs) * per_field}"' in html
    assert "no finished wells of nuclei-count" in html
    assert _runs(web) == 0
    # with history, the duration is seconds per field x fields / workers
    finish_run(web.platform, submit(web.platform, "alice", web.demo_plate))
    html = c.post("/submit", data={"csrf_token": token, "plate": str(web.demo_plate),
                                   "pipeline": "nuclei-count", "action": "estimate"}
                  ).get_data(as_text=True)
    assert "0.020 s per field over the last 96 wells" in html  # (0.01 + 0.03) / 2 fields
    assert "about <b>4 s</b>" in html  # 192 fields x 0.02 s on 1 worker


def _shown(html: str, form_id: str) -> bool:
    """Whether the form is on the page and not hidden."""
    tag = re.search(rf'<form[^>]*id="{form_id}"[^>]*>', html)
    return tag is not None and " hidden" not in tag.group(0)


def test_run_page_owner_other_user_and_operator(web: Web) -> None:
    run_id = submit(web.platform, "demo", web.demo_plate)
    owner = web.client("demo")
    r = owner.get(f"/runs/{run_id}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert html.count('class="well s-queued" data-well=') == 96
    assert _shown(html, "cancel-form") and not _shown(html, "rerun-form")
    prog = owner.get(f"/runs/{run_id}/progress.json").get_json()
    assert prog["progress"]["total"] == 96 and len(prog["wells"]) == 96
    # alice (same lab, may read the plate) may not see demo's run
    alice = web.client("alice")
    for path in (f"/runs/{run_id}", f"/runs/{run_id}/results", f"/runs/{run_id}/progress.json",
                 f"/runs/{run_id}/results.parquet"):
        assert alice.get(path).status_code == 404, path
    token = csrf_of(alice.get("/plates").get_data(as_text=True))
    assert alice.post(f"/runs/{run_id}/cancel", data={"csrf_token": token}).status_code == 404
    assert f'data-run="{run_id}"' not in alice.get("/runs").get_data(as_text=True)
    # an operator sees every run and its page, but may not cancel it
    set_role(web.platform, "lead", "operator")
    op = web.client("lead")
    assert f'data-run="{run_id}"' in op.get("/runs").get_data(as_text=True)
    assert op.get(f"/runs/{run_id}").status_code == 200
    token = csrf_of(op.get("/plates").get_data(as_text=True))
    assert op.post(f"/runs/{run_id}/cancel", data={"csrf_token": token}).status_code == 403
    # the owner cancels with CSRF; without it, refused
    assert owner.post(f"/runs/{run_id}/cancel").status_code == 403
    token = csrf_of(owner.get("/plates").get_data(as_text=True))
    r = owner.post(f"/runs/{run_id}/cancel", data={"csrf_token": token})
    assert r.status_code == 303
    html = owner.get(f"/runs/{run_id}").get_data(as_text=True)
    assert f"Run {run_id} cancelled" in html and "s-cancelled" in html
    assert owner.post(f"/runs/{run_id}/cancel", data={"csrf_token": token}).status_code == 409


def test_rerun_failed_button_and_errors(web: Web) -> None:
    from sqlalchemy import update

    from platequeue.store import WellTask

    run_id = submit(web.platform, "demo", web.demo_plate)
    finish_run(web.platform, run_id)
    with session_scope(web.platform.audit) as s:
        s.execute(update(WellTask).where(WellTask.run_id == run_id, WellTask.label == "C7")
                  .values(status="failed", error="ValueError: corrupt plane"))
        s.execute(update(Run).where(Run.id == run_id)
                  .values(status="partial", wells_done=95, wells_failed=1))
    c = web.client("demo")
    html = c.get(f"/runs/{run_id}").get_data(as_text=True)
    assert '<tr data-well="C7"><td>C7</td><td>0</td><td class="error">ValueError: corrupt plane' \
        in html
    assert _shown(html, "rerun-form") and not _shown(html, "cancel-form")
    assert 'data-confirm="Queue the 1 failed well of run' in html
    token = csrf_of(html)
    r = c.post(f"/runs/{run_id}/rerun-failed", data={"csrf_token": token})
    assert r.status_code == 303
    page = c.get(r.headers["Location"])
    assert page.status_code == 200
    assert f"Queued 1 failed well of run {run_id} again." in page.get_data(as_text=True)
    prog = c.get(f"/runs/{run_id}/progress.json").get_json()
    assert prog["progress"]["status"] == "running" and prog["progress"]["failed"] == 0
    assert {w["well"]: w["status"] for w in prog["wells"]}["C7"] == "queued"


def test_ops_pages_by_role(web: Web) -> None:
    submit(web.platform, "demo", web.demo_plate)
    user = web.client("demo")
    assert user.get("/ops/queue").status_code == 403
    assert user.get("/ops/audit").status_code == 403
    set_role(web.platform, "lead", "operator")
    op = web.client("lead")
    r = op.get("/ops/queue")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-queue="cpu"' in html and 'data-queue="gpu"' in html
    assert "<td>demo</td><td class=\"num\">1</td><td class=\"num\">96</td>" in html
    depth = int(re.search(r'data-queue="cpu"><td>cpu</td><td class="num depth">(\d+)<',
                          html).group(1))  # type: ignore[union-attr]
    assert depth == int(web.platform.redis.llen("cpu")) > 0
    assert op.get("/ops/audit").status_code == 403
    admin = web.client("facility")  # an OMERO administrator maps to admin
    r = admin.get("/ops/audit")
    assert r.status_code == 200 and ">submit<" in r.get_data(as_text=True)


def test_queue_lists_workers_with_gpu(web: Web) -> None:
    from platequeue.queue import liveness as workers_registry

    workers_registry.announce(web.platform.redis, "gpu0@node1",
                              {"queues": ["gpu"], "pid": 41, "gpu": "0"}, ttl=30)
    workers_registry.announce(web.platform.redis, "cpu@node1",
                              {"queues": ["cpu", "maint"], "pid": 42, "gpu": ""}, ttl=30)
    set_role(web.platform, "lead", "operator")
    html = web.client("lead").get("/ops/queue").get_data(as_text=True)
    assert '<tr data-worker="gpu0@node1"><td>gpu0@node1</td><td>gpu</td>\n    <td>GPU 0</td>' \
        in html
    assert "<td>CPU only</td>" in html and "Workers online (2)" in html


def test_audit_log_paginates(web: Web) -> None:
    with session_scope(web.platform.audit) as s:
        s.add_all(AuditEvent(actor="test", action="probe", run_id=None, detail={"n": i})
                  for i in range(120))
    admin = web.client("facility")
    first = admin.get("/ops/audit?action=probe").get_data(as_text=True)
    assert "120 events" in first and "Page 1 of 3" in first and "n=119" in first
    assert first.count("<tr data-event=") == 50
    last = admin.get("/ops/audit?action=probe&page=3").get_data(as_text=True)
    assert last.count("<tr data-event=") == 20 and "n=0<" in last
    assert login(admin, "facility")
