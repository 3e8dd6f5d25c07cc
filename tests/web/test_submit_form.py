"""The submit form for scientists on real PostgreSQL and Redis: parameters by step with
labels, units, defaults and an advanced section; channel picks; bounds refused (page and
API); a subset of wells; several plates at once; a disabled pipeline says so."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from platequeue.accounts import ensure_user, pipeline_admin, tokens
from platequeue.store import Run, WellTask, session_scope
from tests.web.pages_fixtures import Web, csrf_of, web

__all__ = ["web"]

TICKED = re.compile(r'name="well" value="\w+" checked\s*>')


def _runs(web: Web) -> list[Run]:
    with session_scope(web.platform.audit) as s:
        return list(s.scalars(select(Run).order_by(Run.id)))


def _labels(web: Web, run_id: int) -> list[str]:
    with session_scope(web.platform.audit) as s:
        return sorted(s.scalars(select(WellTask.label).where(WellTask.run_id == run_id)))


def test_parameters_grouped_by_step_with_labels_units_defaults(web: Web) -> None:
    c = web.client("demo")
    html = c.get(f"/submit?plate={web.demo_plate}").get_data(as_text=True)
    # steps in the pipeline's order, each with its human title
    titles = re.findall(r'<section class="step-group" data-step="(\w+)">\s*<h3>([^<]+)</h3>', html)
    basic = [t for t in titles if t[0] in ("background", "smooth", "size_filter")]
    assert ("smooth", "Smoothing") in basic and ("size_filter", "Size filter") in basic
    assert '<label for="f-size_filter-min_size">Smallest object kept</label>' in html
    assert '<span class="unit">px²</span>' in html
    assert "Default: <b>1.5</b> px; allowed ≥ 0, ≤ 100." in html
    # rarely changed settings sit in the advanced section, step switches among them
    advanced = html.split('<details id="advanced"', 1)[1].split("</details>", 1)[0]
    assert 'id="f-background-downsample"' in advanced and 'id="f-split-enabled"' in advanced
    assert 'id="f-smooth-sigma"' not in advanced
    # the channel role says which channel it reads on the chosen plate
    truth = web.stack.manifest.plates[0]  # type: ignore[attr-defined]
    assert (f'Will read: <span class="pick-out">{truth.channels[0]} (channel 1 of '
            f'{len(truth.channels)}) on {truth.name}</span>') in html
    # the well picker: one checkbox per well, none ticked
    assert html.count('name="well" value=') == 96 and 'All 96 wells' in html


def test_channel_chosen_by_index_or_name_is_accepted_and_a_missing_one_named(web: Web) -> None:
    c = web.client("demo")
    truth = web.stack.manifest.plates[0]  # type: ignore[attr-defined]
    token = csrf_of(c.get("/submit").get_data(as_text=True))
    form = {"csrf_token": token, "plate": str(web.demo_plate), "pipeline": "nuclei-count",
            "action": "queue"}
    # the form, the API and the worker resolve a choice alike: an index is as good as a name
    last = str(len(truth.channels) - 1)
    assert c.post("/submit", data={**form, "p:channels.nuclei": last}).status_code in (302, 303)
    assert c.post("/submit", data={**form, "p:channels.nuclei": truth.channels[0].upper()}
                  ).status_code in (302, 303)
    assert len(_runs(web)) == 2
    r = c.post("/submit", data={**form, "p:channels.nuclei": "Brightfield-X"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert re.search(r'id="e-f-channels-nuclei">[^<]*matches no channel', html), html[:2000]
    assert truth.channels[0] in html.split('id="e-f-channels-nuclei">', 1)[1][:300]
    assert len(_runs(web)) == 2


@pytest.mark.parametrize(("field", "value", "message"), [
    ("p:size_filter.min_size", "1" + "0" * 39, "must be between"),
    ("p:size_filter.min_size", "100000001", "must be &lt;= 100000000"),
    ("p:smooth.sigma", "1e999", "finite"),
    ("p:threshold.factor", "0", "must be &gt; 0.0"),
])
def test_out_of_range_values_are_refused(web: Web, field: str, value: str,
                                         message: str) -> None:
    c = web.client("demo")
    token = csrf_of(c.get("/submit").get_data(as_text=True))
    r = c.post("/submit", data={"csrf_token": token, "plate": str(web.demo_plate),
                                "pipeline": "nuclei-count", "action": "queue", field: value})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    dom = "e-f-" + field[2:].replace(".", "-")
    assert re.search(rf'id="{dom}">[^<]*{message}', html), html[:2000]
    assert f'value="{value}"' in html  # kept as typed
    assert _runs(web) == []


def test_api_refuses_out_of_range_and_takes_a_subset_of_wells(web: Web) -> None:
    user = ensure_user(web.platform, "demo")
    auth = {"Authorization": "Bearer " + tokens.create(web.platform, user.id, name="t",
                                                        scope="submit", days=1)}
    c = web.app.test_client()
    body = {"plate_id": web.demo_plate, "pipeline": "nuclei-count"}
    r = c.post("/api/runs", json={**body, "params": {"size_filter.min_size": 10**40}},
               headers=auth)
    assert r.status_code == 422 and "min_size" in r.get_json()["error"]
    r = c.post("/api/runs", json={**body, "wells": ["A1", "Z99", "Q2"]}, headers=auth)
    assert r.status_code == 422 and "'Q2', 'Z99'" in r.get_json()["error"]
    for bad in ([], "A1", [1, 2]):
        r = c.post("/api/runs", json={**body, "wells": bad}, headers=auth)
        assert r.status_code == 422, bad
    assert _runs(web) == []
    r = c.post("/api/runs", json={**body, "wells": ["b2", "A1"]}, headers=auth)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["wells_total"] == 2
    assert _labels(web, r.get_json()["run_id"]) == ["A1", "B2"]


def test_submit_a_subset_of_wells_from_the_form(web: Web) -> None:
    c = web.client("demo")
    token = csrf_of(c.get("/submit").get_data(as_text=True))
    data = {"csrf_token": token, "plate": str(web.demo_plate), "pipeline": "nuclei-count",
            "well": ["A1", "A2", "H12"]}
    # the dry run counts only the chosen wells
    html = c.post("/submit", data={**data, "action": "estimate"}).get_data(as_text=True)
    assert 'class="num est-wells">3<' in html and 'class="num est-fields">6<' in html
    assert len(TICKED.findall(html)) == 3 and "3 wells chosen" in html
    r = c.post("/submit", data={**data, "action": "queue"})
    assert r.status_code == 303
    (run,) = _runs(web)
    assert run.wells_total == 3 and _labels(web, run.id) == ["A1", "A2", "H12"]
    # a well the plate lacks is refused before anything is queued
    r = c.post("/submit", data={**data, "well": ["A1", "M30"], "action": "queue"})
    assert r.status_code == 422 and "has no images in well(s) M30" in r.get_data(as_text=True)
    assert len(_runs(web)) == 1


@pytest.mark.full_fixture
def test_several_plates_at_once_with_the_same_wells(web: Web) -> None:
    c = web.client("demo")
    m = web.stack.manifest  # type: ignore[attr-defined]
    plates = [p for p in m.plates if p.name in ("Float plate", "OME-TIFF plate")]
    if len(plates) < 2:
        plates = [p for p in m.plates if len(p.wells) == 4][:2]
    assert len(plates) == 2
    wells = sorted(plates[0].wells)[:2]
    token = csrf_of(c.get("/submit").get_data(as_text=True))
    data = {"csrf_token": token, "plate": [str(p.id) for p in plates],
            "pipeline": "nuclei-count", "well": wells}
    html = c.post("/submit", data={**data, "action": "plates"}).get_data(as_text=True)
    assert 'Queue runs</button>' in html and len(TICKED.findall(html)) == 2
    r = c.post("/submit", data={**data, "action": "queue"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/runs")
    made = _runs(web)
    assert sorted(run.plate_id for run in made) == sorted(p.id for p in plates)
    for run in made:
        assert run.wells_total == 2 and _labels(web, run.id) == sorted(wells)


def test_a_link_to_a_disabled_pipeline_says_so(web: Web) -> None:
    pipeline_admin.set_enabled(web.platform, "cell-painting-lite", False, actor="test")
    c = web.client("demo")
    html = c.get("/submit?pipeline=cell-painting-lite").get_data(as_text=True)
    assert "disabled by an administrator" in html and 'id="pipeline-notice"' in html
    assert '<option value="cell-painting-lite"' not in html
    assert re.search(r'<option value="nuclei-count" selected>', html)
