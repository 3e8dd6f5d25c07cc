"""Results export formats that are not text: Parquet (one row per well and field)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# Identity columns of ``runs.results``; every other column is a float feature.
_IDENTITY: dict[str, pa.DataType] = {
    "plate_id": pa.int64(), "well": pa.string(), "row": pa.int32(), "column": pa.int32(),
    "field": pa.int32(), "image_id": pa.int64(),
}


def results_schema(columns: Sequence[str],
                   metadata: Mapping[str, str] | None = None) -> pa.Schema:
    """Arrow schema for ``columns``: typed identity columns, nullable float64 features.

    ``metadata`` (e.g. run id, pipeline name, version and hash) is stored in the schema, so
    a file found on disk still says which run made it.
    """
    if len(set(columns)) != len(columns):
        raise ValueError(f"duplicate column names in {list(columns)}")
    return pa.schema([pa.field(c, _IDENTITY.get(c, pa.float64())) for c in columns],
                     metadata=dict(metadata) if metadata else None)


def results_parquet(columns: Sequence[str], rows: Sequence[dict[str, Any]], *,
                    metadata: Mapping[str, str] | None = None) -> bytes:
    """The rows of :func:`platequeue.runs.results` as a Parquet file (bytes).

    Column order is ``columns``; a feature missing for a row is null.
    """
    schema = results_schema(columns, metadata)
    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows], schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()
