"""web/openapi.json: valid OpenAPI 3.1, in step with the Flask routes, and what the app does.

The Schemathesis run fuzzes every documented operation through WSGI against the app on real
PostgreSQL and Redis with a valid submit-scoped token: no 5xx, and every response (status,
content type, body) conforms to the document. Bounded: a few examples per operation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.definitions import OPENAPI_31

from platequeue.platform import Platform, set_platform
from platequeue.settings import load_settings
from tests.web.api_fixtures import Api, api  # noqa: F401  (fixture)

DOC_PATH = Path(__file__).resolve().parents[2] / "web" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DOC_PATH.read_text())
    return doc


def _documented() -> set[tuple[str, str]]:
    return {(path, method) for path, item in _doc()["paths"].items()
            for method in item if method in METHODS}


def _flask_api_rules(tmp_path: Path) -> set[tuple[str, str]]:
    from web import create_app

    platform = Platform(load_settings({"APP_ENV": "test", "PLATEQUEUE_HOME": str(tmp_path)}))
    try:
        app = create_app(platform=platform)
    finally:
        set_platform(None)
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method.lower() in METHODS:
                out.add((path, method.lower()))
    return out


def test_every_api_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    rules = _flask_api_rules(tmp_path)
    documented = _documented()
    assert ("/api/runs/{run_id}", "get") in rules  # the rule conversion works
    assert rules - documented == set(), "routes missing from web/openapi.json"
    assert documented - rules == set(), "documented paths the app does not serve"


def test_document_is_valid_openapi_31() -> None:
    doc = _doc()
    jsonschema.Draft202012Validator(OPENAPI_31).validate(doc)
    assert doc["openapi"].startswith("3.1")
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name
    # every $ref resolves inside the document
    text = DOC_PATH.read_text()
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node: Any = doc
        for part in ref.split("/"):
            assert part in node, f"unresolved $ref #/{ref}"
            node = node[part]
    # every operation: an id, bearer security (or explicitly none), a JSON error for 4xx
    assert doc["components"]["securitySchemes"]["bearer"] == {
        **doc["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}
    ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            ids.append(op["operationId"])
            codes = set(op["responses"])
            if op.get("security") != []:
                assert "401" in codes, (path, method)
            assert any(c.startswith("2") for c in codes), (path, method)
    assert len(ids) == len(set(ids))
    error = doc["components"]["schemas"]["Error"]
    jsonschema.validate({"error": "x"}, error)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"message": "x"}, error)


def test_served_document_is_the_file(api: Api) -> None:  # noqa: F811
    client = api.app.test_client()
    r = client.get("/api/openapi.json")  # no credentials needed
    assert r.status_code == 200 and r.get_json() == _doc()


def _check_json_errors(doc: dict[str, Any], case: Any, response: Any) -> None:
    """Every 4xx is ``{"error": "<message>"}`` and its code is documented for the route."""
    if response.status_code < 400:
        return
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    if response.status_code in (401, 405):
        return
    op = doc["paths"][case.operation.path][case.method.lower()]
    assert str(response.status_code) in op["responses"], (case.method, case.path, body)


def _fuzz(op: Any, headers: dict[str, str], doc: dict[str, Any],
          seen: dict[str, set[int]], run_id: int) -> None:
    """A few positive and negative cases of one operation, every Schemathesis check on;
    routes of one run also get cases aimed at a real run."""
    from schemathesis import GenerationMode

    choices = [op.as_strategy(generation_mode=GenerationMode.POSITIVE),
               op.as_strategy(generation_mode=GenerationMode.NEGATIVE)]
    if "{run_id}" in op.path:
        choices.append(op.as_strategy(generation_mode=GenerationMode.POSITIVE,
                                      path_parameters={"run_id": run_id}))
    strategies = st.one_of(*choices)

    # A cron expression's meaning (field ranges, names) is not expressible in JSON Schema:
    # a schema-valid but meaningless one is rightly a 422 (tests/ops/test_web_ops.py), so the
    # "schema-valid data must be accepted" check is off for that one operation.
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    excluded = [positive_data_acceptance] if op.label == "POST /api/schedules" else []

    # A fixed seed: the same fuzzed cases in every checkout and every run.
    @seed(20261122)
    @settings(max_examples=25, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(case=strategies)
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=headers, excluded_checks=excluded)
        assert response.status_code < 500, (case.method, case.path, response.text)
        _check_json_errors(doc, case, response)
        seen.setdefault(op.label, set()).add(response.status_code)

    run()


@pytest.mark.slow
def test_schemathesis_against_the_app(api: Api) -> None:  # noqa: F811
    import schemathesis

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", api.app)
    headers = api.headers("user")
    doc = _doc()
    seen: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    # Schemathesis leaves out the operation that serves the document itself
    assert {op.label.split(" ", 1)[1] for op in operations} == {
        p for p, _ in _documented()} - {"/api/openapi.json"}
    from platequeue import runs

    plate = api.stack.manifest.plates[0]  # type: ignore[attr-defined]
    run_id = runs.submit(api.platform, omename="demo", plate_id=plate.id,
                         pipeline="nuclei-count").run_id
    for op in operations:
        _fuzz(op, headers, doc, seen, run_id)
    # the fuzzing reached every operation, and got past the checks at least once for reads
    assert set(seen) == {op.label for op in operations}
    assert 200 in seen["GET /api/pipelines"] and 200 in seen["GET /api/plates"]
    assert 422 in seen["POST /api/runs"]
    assert 200 in seen["GET /api/runs/{run_id}"] and 200 in seen["GET /api/runs/{run_id}/wells"]
    assert 409 in seen["POST /api/runs/{run_id}/rerun-failed"]
