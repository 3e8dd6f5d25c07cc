"""Hypothesis-driven posts to every HTML form route (and the query strings of the pages), as
a signed-in admin with a valid CSRF token: whatever is sent, the answer is never a 5xx.
(The JSON API is fuzzed from its OpenAPI document by Schemathesis in tests/web.)"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import Matrix

_IDS = st.one_of(st.integers(min_value=-5, max_value=2**70).map(str),
                 st.sampled_from(["1101", "1102", "0", "", "١٢", "²", "1e3", "0x10", " 7 "]))
_TEXT = st.one_of(st.text(max_size=40),
                  st.sampled_from(["0 0 31 2 *", "* * * * *", "nuclei-count", "noop", "plate",
                                   "screen", "true", "false", "on", "read", "submit", "a=b",
                                   "channels.nuclei=9", "Europe/Berlin", "\x00", "\n", "é"]))
_VALUE = st.one_of(_IDS, _TEXT)

FORMS: dict[str, tuple[str, ...]] = {
    "/submit": ("plate", "pipeline", "action", "p:channels.nuclei", "p:threshold.method",
                "p:smooth.sigma", "p:split.enabled"),
    "/schedules": ("name", "cron", "timezone", "target_kind", "target_id", "pipeline",
                   "group_id", "params", "on_pipeline_version_change"),
    "/account/tokens": ("name", "scope", "days"),
    "/ops/pipelines": ("name", "enabled"),
    "/login": ("omename",),
}
PAGES: dict[str, tuple[str, ...]] = {
    "/plates": ("q",), "/ops/audit": ("page", "action"), "/submit": ("plate", "pipeline"),
    "/runs/{run}/results": ("feature", "well"), "/login": ("next",), "/schedules": ("x",),
}


def _form(fields: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={f: _VALUE for f in fields})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_form_posts_never_500(matrix: Matrix, data: st.DataObject) -> None:
    client, csrf = matrix.browser("admin-in")
    path = data.draw(st.sampled_from(sorted(FORMS)))
    form = data.draw(_form(FORMS[path]))
    form["csrf_token"] = csrf
    res = client.post(path, data=form)
    assert res.status_code < 500, (path, form, res.get_data(as_text=True)[:500])
    if path == "/login":  # the dev sign-in may switch users: back to the admin
        matrix.clients.pop("admin-in", None)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_run_and_schedule_actions_never_500(matrix: Matrix, data: st.DataObject) -> None:
    client, csrf = matrix.browser("admin-in")
    target = data.draw(_IDS.filter(lambda v: v.strip().isascii() and v.strip().isdigit()
                                   and int(v) < 2**80))
    action = data.draw(st.sampled_from([f"/runs/{target}/cancel", f"/runs/{target}/rerun-failed",
                                        f"/schedules/{target}/toggle",
                                        f"/schedules/{target}/delete",
                                        f"/account/tokens/{target}/revoke"]))
    res = client.post(action.replace(" ", ""), data={"csrf_token": csrf})
    assert res.status_code < 500, (action, res.get_data(as_text=True)[:500])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_page_query_strings_never_500(matrix: Matrix, data: st.DataObject) -> None:
    client, _ = matrix.browser("admin-in")
    run = matrix.run("admin-in", "public", "failed")
    path = data.draw(st.sampled_from(sorted(PAGES)))
    query = data.draw(_form(PAGES[path]))
    res = client.get(path.format(run=run), query_string=query)
    assert res.status_code < 500, (path, query, res.get_data(as_text=True)[:500])
