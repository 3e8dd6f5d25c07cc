"""``Client.results_table`` against the real API and worker: the table equals the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pytest

from platequeue.client import Client
from platequeue.testing import served
from tests.web.api_fixtures import Api, api  # noqa: F401  (fixture)


@pytest.fixture
def base_url(api: Api) -> Iterator[str]:  # noqa: F811
    with served(api.app) as url:
        yield url


@pytest.mark.slow
def test_results_table_equals_csv(api: Api, base_url: str) -> None:  # noqa: F811
    truth = api.stack.manifest.plates[0]  # type: ignore[attr-defined]
    api.stack.start_worker()
    client = Client(base_url, api.tokens["user"])
    [run] = client.submit(truth.id, "nuclei-count", channels={"nuclei": 0})
    assert client.wait(run["run_id"], timeout=300, interval=0.5)["status"] == "succeeded"

    rows = list(csv.DictReader(io.StringIO(client.results(run["run_id"], format="csv"))))
    frame = client.results_table(run["run_id"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(rows[0])
    assert len(frame) == len(rows) == len(truth.wells) * truth.fields
    from_csv = {(r["well"], int(r["field"])): float(r["count"]) for r in rows}
    assert {(w, int(f)): float(c) for w, f, c in
            zip(frame["well"], frame["field"], frame["count"], strict=True)} == from_csv

    table = client.results_table(run["run_id"], "arrow")
    assert isinstance(table, pa.Table) and table.num_rows == len(rows)
    assert table.schema.field("count").type == pa.float64()
    assert table.column("well").to_pylist() == [r["well"] for r in rows]
