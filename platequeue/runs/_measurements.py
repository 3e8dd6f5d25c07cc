"""Idempotent measurement writes keyed by (run, well, field, feature)."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from platequeue.store import Measurement


def upsert_measurements(s: Session, run_id: int, well_id: int,
                        rows: list[dict[str, Any]]) -> int:
    """Insert or overwrite every feature of every field of one well; returns rows written.

    A redelivered task writes the same keys again and never duplicates rows. Non-finite
    values (a mean over zero objects) are stored as NaN, which both backends accept.
    """
    values = [
        {"run_id": run_id, "well_id": well_id, "field": int(r["field"]),
         "image_id": int(r["image_id"]), "feature": name,
         "value": float(v) if v is not None and math.isfinite(float(v)) else float("nan")}
        for r in rows for name, v in r["features"].items()
    ]
    if not values:
        return 0
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Measurement).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "well_id", "field", "feature"],
        set_={"value": stmt.excluded.value, "image_id": stmt.excluded.image_id})
    s.execute(stmt)
    return len(values)
