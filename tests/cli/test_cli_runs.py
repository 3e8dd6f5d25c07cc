"""``submit`` with several plates and a progress bar, and ``results`` in every format, on a
real worker: the Parquet file holds exactly the CSV's rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import Stack


def _same(text: str, value: object) -> bool:
    """A CSV cell and the Parquet value of the same cell."""
    if value is None:
        return text == ""
    if isinstance(value, str):
        return text == value
    return float(text) == float(value)  # type: ignore[arg-type]


@pytest.mark.slow
def test_submit_several_plates_then_results_in_every_format(stack: Stack,
                                                            tmp_path: Path) -> None:
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    stack.start_worker()
    # Two runs (the same plate twice: each --plate is one run), waited for with --json.
    res = stack.cli("submit", "--user", "demo", "--plate", str(plate.id), "--plate",
                    str(plate.id), "--pipeline", "nuclei-count", "--channel", "nuclei=0",
                    "--wait", "--json", timeout=900)
    assert res.returncode == 0, res.stderr
    runs = json.loads(res.stdout)  # machine-readable: nothing else on stdout
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    assert all(r["wells_done"] == r["wells_total"] == len(plate.wells) for r in runs)
    run_id = runs[0]["run_id"]

    rows = list(csv.DictReader(io.StringIO(
        stack.cli("results", str(run_id), check=True).stdout)))
    assert len(rows) == len(plate.wells) * plate.fields
    out = tmp_path / "run.parquet"
    written = stack.cli("results", str(run_id), "--format", "parquet", "-o", str(out))
    assert written.returncode == 0 and f"wrote {len(rows)} rows" in written.stderr
    table = pq.read_table(out)
    assert table.column_names == list(rows[0])
    for r, got in zip(rows, table.to_pylist(), strict=True):
        assert all(_same(r[c], got[c]) for c in r), (r, got)
    as_json = json.loads(stack.cli("results", str(run_id), "--format", "json").stdout)
    assert [(r["well"], int(r["field"])) for r in as_json] == [
        (r["well"], int(r["field"])) for r in rows]
    csv_file = tmp_path / "run.csv"
    stack.cli("results", str(run_id), "-o", str(csv_file), check=True)
    assert list(csv.DictReader(csv_file.open())) == rows

    # Without --json: the progress bar goes to stderr, one summary line per run to stdout.
    res = stack.cli("submit", "--user", "demo", "--plate", str(plate.id), "--plate",
                    str(plate.id), "--pipeline", "nuclei-count", "--wait", timeout=900)
    assert res.returncode == 0, res.stderr
    assert "2 runs (" in res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 2 and all(" succeeded: " in line for line in lines)
