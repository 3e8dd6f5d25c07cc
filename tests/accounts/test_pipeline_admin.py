"""Administrators enable and disable pipelines: refused for others, audited, and a disabled
pipeline is refused on every submission path (service, API, page) and listed as disabled."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from platequeue import runs
from platequeue.accounts import pipeline_admin
from platequeue.errors import Conflict
from platequeue.store import AuditEvent, session_scope
from tests.web.pages_fixtures import Web, login, set_role, web

__all__ = ["web"]


def test_admin_disables_and_enables_a_pipeline(web: Web) -> None:
    user = web.client("demo")
    assert user.get("/ops/pipelines").status_code == 403
    set_role(web.platform, "lead", "operator")
    assert web.client("lead").get("/ops/pipelines").status_code == 403  # admins only

    set_role(web.platform, "facility", "admin")
    admin = web.app.test_client()
    csrf = login(admin, "facility")
    page = admin.get("/ops/pipelines").get_data(as_text=True)
    assert 'data-pipeline="nuclei-count"' in page and "enabled" in page
    assert admin.post("/ops/pipelines", data={"name": "nuclei-count",
                                              "enabled": "false"}).status_code == 403  # CSRF
    res = admin.post("/ops/pipelines", data={"name": "nuclei-count", "enabled": "false",
                                             "csrf_token": csrf})
    assert res.status_code == 303
    assert pipeline_admin.disabled(web.platform) == {"nuclei-count"}

    # refused everywhere a run can start, with 409 and a reason; nothing is queued
    with pytest.raises(Conflict, match="disabled by an administrator"):
        runs.submit(web.platform, omename="demo", plate_id=web.demo_plate,
                    pipeline="nuclei-count")
    api_csrf = login(user, "demo")
    res = user.post("/api/runs", json={"plate_id": web.demo_plate, "pipeline": "nuclei-count"},
                    headers={"X-CSRF-Token": api_csrf})
    assert res.status_code == 409 and "disabled" in res.get_json()["error"]
    listed = {p["name"]: p["enabled"] for p in user.get("/api/pipelines").get_json()}
    assert listed["nuclei-count"] is False and listed["field-qc"] is True
    form = user.get("/submit").get_data(as_text=True)
    assert 'value="nuclei-count"' not in form and 'value="field-qc"' in form
    assert runs.list_runs(web.platform, omename="demo") == []

    res = admin.post("/ops/pipelines", data={"name": "nuclei-count", "enabled": "true",
                                             "csrf_token": csrf})
    assert res.status_code == 303 and pipeline_admin.disabled(web.platform) == set()
    view = runs.submit(web.platform, omename="demo", plate_id=web.demo_plate,
                       pipeline="nuclei-count")
    assert view.status == "queued"
    with session_scope(web.platform.audit) as s:
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.action.like("pipeline-%")).order_by(AuditEvent.id)))
    assert actions == ["pipeline-disabled", "pipeline-enabled"]
    # an unknown pipeline is a 404, not a silent no-op
    res = admin.post("/ops/pipelines", data={"name": "nope", "enabled": "false",
                                             "csrf_token": csrf})
    assert res.status_code == 404
