"""Attacks with malformed input: each must be a 4xx (never a 500) and change nothing."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import func, select

from platequeue.settings import SettingsError, load_settings
from platequeue.store import Run, Schedule, session_scope
from tests.security.conftest import Matrix

HUGE = 2**70
BIG64 = 2**63  # one past bigint


def _counts(m: Matrix) -> tuple[int, int]:
    with session_scope(m.platform.audit) as s:
        return (int(s.scalar(select(func.count()).select_from(Run)) or 0),
                int(s.scalar(select(func.count()).select_from(Schedule)) or 0))


def _post(m: Matrix, path: str, who: str = "user-in", **kwargs: Any) -> Any:
    return m.app.test_client().post(path, headers=m.bearer(who), **kwargs)


def test_non_ascii_csrf_header(matrix: Matrix) -> None:
    client, _ = matrix.browser("user-in")
    before = _counts(matrix)
    for sent in ("é", "\u00ff" * 40, "ü-token"):
        r = client.post("/api/runs", json={"plate_id": matrix.plates["public"],
                                           "pipeline": "noop"}, headers={"X-CSRF-Token": sent})
        assert r.status_code == 403 and "CSRF" in r.get_json()["error"]
    assert _counts(matrix) == before


@pytest.mark.parametrize("path", [f"/api/runs/{HUGE}", f"/api/runs/{BIG64}", f"/runs/{HUGE}",
                                  f"/runs/{2**40}", f"/api/runs/{2**40}/wells",
                                  f"/plates/{HUGE}", f"/plates/{BIG64}",
                                  f"/runs/{HUGE}/results", f"/runs/{2**40}/progress.json"])
def test_id_beyond_int64_in_path_get(matrix: Matrix, path: str) -> None:
    client, _ = matrix.browser("user-in")
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", [f"/api/runs/{HUGE}/cancel", f"/api/runs/{2**40}/rerun-failed",
                                  f"/schedules/{HUGE}/delete", f"/schedules/{2**40}/toggle",
                                  f"/account/tokens/{HUGE}/revoke",
                                  f"/account/tokens/{2**40}/revoke"])
def test_id_beyond_int64_in_path_post(matrix: Matrix, path: str) -> None:
    client, csrf = matrix.browser("user-in")
    assert client.post(path, data={"csrf_token": csrf}).status_code == 404
    r = matrix.app.test_client().delete(f"/api/schedules/{HUGE}",
                                        headers=matrix.bearer("user-in"))
    assert r.status_code == 404


@pytest.mark.parametrize("body", [
    {"plate_id": HUGE, "pipeline": "noop"}, {"plate_id": BIG64, "pipeline": "noop"},
    {"plate_id": -1, "pipeline": "noop"}, {"plate_id": "1101", "pipeline": "noop"},
    {"plate_id": True, "pipeline": "noop"}, {"plate_id": 1.5, "pipeline": "noop"},
    {"plate_id": 1101, "pipeline": "noop", "custom_step": HUGE},
])
def test_id_beyond_int64_in_json_submit(matrix: Matrix, body: dict[str, Any]) -> None:
    before = _counts(matrix)
    r = _post(matrix, "/api/runs", json=body)
    assert r.status_code == 422, r.get_json()
    assert _counts(matrix) == before


@pytest.mark.parametrize("field", ["target_id", "group_id"])
def test_id_beyond_int64_in_json_schedule(matrix: Matrix, field: str) -> None:
    body = {"cron": "0 2 * * *", "target_kind": "plate", "pipeline": "noop",
            "target_id": matrix.plates["public"], field: HUGE}
    before = _counts(matrix)
    r = _post(matrix, "/api/schedules", json=body, who="admin-in")
    assert r.status_code == 422 and field in r.get_json()["error"]
    assert _counts(matrix) == before


@pytest.mark.parametrize("path", ["/api/runs", "/api/schedules", "/api/steps"])
def test_json_nested_thousands_deep(matrix: Matrix, path: str) -> None:
    for depth in (5000, 100_000):
        body = "[" * depth + "]" * depth
        r = _post(matrix, path, data=body, content_type="application/json")
        assert 400 <= r.status_code < 500, (path, depth, r.status_code)
    nested: Any = 1
    for _ in range(100):
        nested = {"a": nested}
    r = _post(matrix, path, json={"plate_id": matrix.plates["public"], "pipeline": "noop",
                                  "params": nested})
    assert 400 <= r.status_code < 500


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_impossible_cron(matrix: Matrix, cron: str) -> None:
    before = _counts(matrix)
    r = _post(matrix, "/api/schedules", json={"cron": cron, "target_kind": "plate",
                                              "target_id": matrix.plates["public"],
                                              "pipeline": "noop"})
    assert r.status_code == 422 and "never fires" in r.get_json()["error"]
    client, csrf = matrix.browser("user-in")
    page = client.post("/schedules", data={"csrf_token": csrf, "cron": cron,
                                           "target_kind": "plate", "pipeline": "noop",
                                           "target_id": str(matrix.plates["public"])})
    assert page.status_code == 422
    assert _counts(matrix) == before


@pytest.mark.parametrize(("field", "value"), [("enabled", "false"), ("enabled", 0),
                                              ("on_pipeline_version_change", "no"),
                                              ("on_pipeline_version_change", "true"),
                                              ("enabled", [])])
def test_schedule_boolean_given_as_string(matrix: Matrix, field: str, value: Any) -> None:
    before = _counts(matrix)
    r = _post(matrix, "/api/schedules", json={
        "cron": "0 2 * * *", "target_kind": "plate", "target_id": matrix.plates["public"],
        "pipeline": "noop", field: value})
    assert r.status_code == 422 and field in r.get_json()["error"]
    assert _counts(matrix) == before


def test_request_body_beyond_max_content_length(matrix: Matrix) -> None:
    limit = matrix.platform.settings.max_content_length
    assert limit == 16 * 1024 * 1024  # the documented default
    body = b'{"plate_id": 1, "pipeline": "' + b"x" * limit + b'"}'
    r = _post(matrix, "/api/runs", data=body, content_type="application/json")
    assert r.status_code == 413
    client, csrf = matrix.browser("user-in")
    r = client.post("/submit", data={"csrf_token": csrf, "pipeline": "x" * limit})
    assert r.status_code == 413


def test_plate_geometry_unbounded(matrix: Matrix) -> None:
    before = _counts(matrix)
    r = _post(matrix, "/api/runs", json={"plate_id": matrix.plates["huge"],
                                         "pipeline": "nuclei-count"})
    assert r.status_code == 422 and "geometry" in r.get_json()["error"]
    assert _counts(matrix) == before


@pytest.mark.parametrize("channel", [2, 5, "7", "Nope"])
def test_channel_index_beyond_plate_channels(matrix: Matrix, channel: Any) -> None:
    before = _counts(matrix)
    r = _post(matrix, "/api/runs", json={"plate_id": matrix.plates["public"],
                                         "pipeline": "nuclei-count",
                                         "channels": {"nuclei": channel}})
    assert r.status_code == 422 and "channels.nuclei" in r.get_json()["error"]
    client, csrf = matrix.browser("user-in")
    page = client.post("/submit", data={"csrf_token": csrf, "action": "queue",
                                        "plate": str(matrix.plates["public"]),
                                        "pipeline": "nuclei-count",
                                        "p:channels.nuclei": str(channel)})
    assert page.status_code == 422
    assert _counts(matrix) == before


def test_unreadable_plate_leaks_existence(matrix: Matrix) -> None:
    private, unknown = matrix.plates["private"], 987_654_321
    for who in ("user-out", "operator-out"):  # OMERO's rules bind operators too
        answers = []
        for plate in (private, unknown):
            r = _post(matrix, "/api/runs", who=who, json={"plate_id": plate,
                                                         "pipeline": "noop"})
            answers.append((r.status_code, r.get_json()["error"].replace(str(plate), "N")))
            client, _ = matrix.browser(who)
            answers.append((client.get(f"/plates/{plate}").status_code, ""))
            r = _post(matrix, "/api/schedules", who=who, json={
                "cron": "0 2 * * *", "target_kind": "plate", "target_id": plate,
                "pipeline": "noop"})
            answers.append((r.status_code, r.get_json()["error"].replace(str(plate), "N")))
        assert answers[:3] == answers[3:] and {a[0] for a in answers} == {404}, answers


def test_server_paths_in_well_errors_shown_to_users(matrix: Matrix) -> None:
    run_id = matrix.run("user-in", "public", "failed")
    r = matrix.app.test_client().get(f"/api/runs/{run_id}/wells",
                                     headers=matrix.bearer("user-in"))
    error = r.get_json()[0]["error"]
    assert "/OMERO" not in error and "cannot read <path> (truncated)" in error
    client, _ = matrix.browser("user-in")
    page = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert "cannot read &lt;path&gt;" in page and "/OMERO/Pixels" not in page
    for who in ("operator-out", "admin-out"):
        r = matrix.app.test_client().get(f"/api/runs/{run_id}/wells",
                                         headers=matrix.bearer(who))
        assert "/OMERO/Pixels/1" in r.get_json()[0]["error"]


@pytest.mark.parametrize("key", ["a" * 64, "password" * 5, "0123456789abcdef" * 3,
                                 "Aa1!" * 12, "correct-horse-battery-staple-xx",
                                 "abcdefghijklmnopqrstuvwxyzabcdef"])
def test_low_entropy_secret_key(tmp_path: Any, key: str) -> None:
    env = {"APP_ENV": "production", "SECRET_KEY": key, "PLATEQUEUE_HOME": str(tmp_path),
           "DATABASE_URL": "postgresql+psycopg://x@h/d", "REDIS_URL": "redis://h:6379/0",
           "OMERO_DB_URL": "postgresql+psycopg://x@h/o"}
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings(env)


def test_generated_secret_keys_pass(tmp_path: Any) -> None:
    base = {"APP_ENV": "production", "PLATEQUEUE_HOME": str(tmp_path),
            "DATABASE_URL": "postgresql+psycopg://x@h/d", "REDIS_URL": "redis://h:6379/0",
            "OMERO_DB_URL": "postgresql+psycopg://x@h/o"}
    for _ in range(50):  # the generator template.env documents, and hex keys
        for key in (secrets.token_urlsafe(48), secrets.token_hex(32)):
            assert load_settings({**base, "SECRET_KEY": key}).secret_key == key


@pytest.mark.parametrize(("who", "path"), [("admin-in", "/ops/audit?action=%00"),
                                           ("user-in", "/plates?q=a%00b"),
                                           ("user-in", "/api/runs?all=%00"),
                                           ("user-in", "/runs/1/wells/A%001/fields/0/preview.png")])
def test_nul_character_in_query_or_path(matrix: Matrix, who: str, path: str) -> None:
    client, _ = matrix.browser(who)
    assert client.get(path).status_code == 422


def test_nul_character_in_form_and_json(matrix: Matrix) -> None:
    before = _counts(matrix)
    client, csrf = matrix.browser("user-in")
    r = client.post("/schedules", data={"csrf_token": csrf, "name": "night\x00", "cron":
                                        "0 2 * * *", "target_kind": "plate", "pipeline": "noop",
                                        "target_id": str(matrix.plates["public"])})
    assert r.status_code == 422
    r = _post(matrix, "/api/schedules", json={"name": "night\x00", "cron": "0 2 * * *",
                                              "target_kind": "plate", "pipeline": "noop",
                                              "target_id": matrix.plates["public"]})
    assert r.status_code == 422
    assert _counts(matrix) == before


@pytest.mark.parametrize("plate", ["²", "١٢", "1" * 400])
def test_non_ascii_or_huge_digits_in_submit_form(matrix: Matrix, plate: str) -> None:
    client, csrf = matrix.browser("user-in")
    assert client.get("/submit", query_string={"plate": plate}).status_code == 200
    r = client.post("/submit", data={"csrf_token": csrf, "plate": plate, "action": "queue",
                                     "pipeline": "noop"})
    assert r.status_code == 422  # "choose at least one plate"
    # a screen id (OMERO.web's "Analyse with platequeue" link) is refused as calmly
    assert client.get("/submit", query_string={"screen": plate}).status_code == 200
    many = {"screen": [str(n) for n in range(1, 60)]}  # one query each: capped
    assert "at most" in client.get("/submit", query_string=many).get_data(as_text=True)
