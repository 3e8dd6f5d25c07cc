"""platequeue.client against a real HTTP server (werkzeug) and a real Celery worker."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pyarrow.parquet as pq
import pytest

from platequeue.client import Client, ClientError
from platequeue.testing import served as serve
from tests.web.api_fixtures import Api, api  # noqa: F401  (fixture)


@pytest.fixture
def base_url(api: Api) -> Iterator[str]:  # noqa: F811
    with serve(api.app) as url:
        yield url


@pytest.mark.slow
def test_submit_wait_results_match_ground_truth(api: Api, base_url: str) -> None:  # noqa: F811
    truth = api.stack.manifest.plates[0]  # type: ignore[attr-defined]
    api.stack.start_worker()
    client = Client(base_url, api.tokens["user"])
    assert client.me()["omename"] == "demo"
    assert truth.id in {p["id"] for p in client.plates()}
    assert "nuclei-count" in {p["name"] for p in client.pipelines()}

    [run] = client.submit([truth.id], "nuclei-count", channels={"nuclei": 0})
    assert run["status"] in ("queued", "running") and run["wells_total"] == len(truth.wells)
    assert run["params"]["channels.nuclei"] == "0"
    done = client.wait(run["run_id"], timeout=300, interval=0.5)
    assert done["status"] == "succeeded", done
    assert done["wells_done"] == len(truth.wells) and done["wells_failed"] == 0

    rows = list(csv.DictReader(io.StringIO(client.results(run["run_id"], format="csv"))))
    assert len(rows) == len(truth.wells) * truth.fields
    for row in rows:
        assert float(row["count"]) == truth.count(row["well"], int(row["field"])), row

    as_json = client.results(run["run_id"], format="json")
    assert len(as_json["rows"]) == len(rows) and "count" in as_json["columns"]
    table = pq.read_table(io.BytesIO(client.results(run["run_id"], format="parquet")),
                          use_threads=False)
    assert table.num_rows == len(rows)
    counts = {(w, f): c for w, f, c in zip(table.column("well").to_pylist(),
                                           table.column("field").to_pylist(),
                                           table.column("count").to_pylist(), strict=True)}
    assert counts == {(r["well"], int(r["field"])): float(r["count"]) for r in rows}

    wells = client.wells(run["run_id"])
    assert len(wells) == len(truth.wells) and {w["status"] for w in wells} == {"succeeded"}
    assert run["run_id"] in {r["run_id"] for r in client.runs()}
    with pytest.raises(ClientError) as exc:
        client.cancel(run["run_id"])
    assert exc.value.status == 409 and "already succeeded" in exc.value.message
    with pytest.raises(ClientError) as exc:
        client.rerun_failed(run["run_id"])
    assert exc.value.status == 409


def test_errors_raise_client_error(api: Api, base_url: str) -> None:  # noqa: F811
    truth = api.stack.manifest.plates[0]  # type: ignore[attr-defined]
    with pytest.raises(ClientError) as exc:
        Client(base_url, "pq_forged").plates()
    assert exc.value.status == 401 and "token" in exc.value.message

    reader = Client(base_url, api.token("user", scope="read"))
    with pytest.raises(ClientError) as exc:
        reader.submit(truth.id, "nuclei-count")
    assert exc.value.status == 403

    client = Client(base_url, api.tokens["user"])
    cases = [
        (lambda: client.run(424242), 404, "no run with id 424242"),
        (lambda: client.submit(truth.id, "no-such-pipeline"), 422, "no-such-pipeline"),
        (lambda: client.submit(truth.id, "nuclei-count", params={"no_such": 1}), 422,
         "no_such"),
        (lambda: client.submit(999999, "nuclei-count"), 404, "no plate"),
    ]
    for call, status, words in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert exc.value.status == status and words in exc.value.message, exc.value

    [run] = client.submit(truth.id, "nuclei-count")  # no worker: it stays queued
    with pytest.raises(TimeoutError):
        client.wait(run["run_id"], timeout=0.5, interval=0.1)
    assert client.cancel(run["run_id"])["status"] == "cancelled"
    assert client.wait(run["run_id"], timeout=5)["status"] == "cancelled"
    other = Client(base_url, api.token("operator"))
    assert run["run_id"] in {r["run_id"] for r in other.runs(everyone=True)}
    assert run["run_id"] not in {r["run_id"] for r in other.runs()}
    with pytest.raises(ValueError, match="format"):
        client.results(run["run_id"], format="xlsx")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="http"):
        Client("platequeue.example.org", "t")


def test_status_in_one_statement_matches_the_listing(api: Api) -> None:  # noqa: F811
    """runs.status (one plain-row statement) says what the ORM listing says."""
    from sqlalchemy import event, select, update

    from platequeue import runs
    from platequeue.errors import NotFound
    from platequeue.store import WellTask, session_scope

    truth = api.stack.manifest.plates[0]  # type: ignore[attr-defined]
    run_id = runs.submit(api.platform, omename="demo", plate_id=truth.id,
                         pipeline="nuclei-count").run_id
    with session_scope(api.platform.audit) as s:
        ids = s.scalars(select(WellTask.id).where(WellTask.run_id == run_id)
                        .order_by(WellTask.id).limit(3)).all()
        s.execute(update(WellTask).where(WellTask.id.in_(ids)).values(status="running"))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(api.platform.audit, "before_cursor_execute", count)
    try:
        view = runs.status(api.platform, run_id)
    finally:
        event.remove(api.platform.audit, "before_cursor_execute", count)
    assert len([q for q in statements if q.lstrip().upper().startswith("SELECT")
                and "runs" in q]) == 1, statements
    assert view.wells_running == 3 and view.user == "demo"
    [listed] = [v for v in runs.list_runs(api.platform) if v.run_id == run_id]
    assert view == listed
    with pytest.raises(NotFound, match="no run with id 99999"):
        runs.status(api.platform, 99999)
