"""What the pages show beside OMERO's plates and images: a plate's acquisitions (OMERO
``plateacquisition`` rows, one per imaging run of the plate) and an image's stored pixel
size. Read-only SQL on OMERO's database, like :mod:`platequeue.omero._metadata`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Engine, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

_ACQ_SQL = text("SELECT id, plate, name, starttime, endtime, maximumfieldcount "
                "FROM plateacquisition WHERE plate IN :ids ORDER BY plate, starttime, id"
                ).bindparams(bindparam("ids", expanding=True)
                ).columns(starttime=DateTime(), endtime=DateTime())  # datetimes on SQLite too
_SIZE_SQL = text("SELECT physicalsizexvalue, CAST(physicalsizexunit AS TEXT) "
                 "FROM pixels WHERE id = :id")


@dataclass(frozen=True)
class Acquisition:
    """One acquisition of a plate; times as OMERO stores them (UTC)."""

    id: int
    name: str
    start: datetime | None
    end: datetime | None
    fields: int | None

    @property
    def when(self) -> str:
        """"2024-03-05 10:00-10:50 UTC" (OMERO stores these times in UTC)."""
        if self.start is None:
            return "time not recorded"
        out = self.start.strftime("%Y-%m-%d %H:%M")
        if self.end is not None:
            out += "\u2013" + self.end.strftime("%H:%M" if self.end.date() == self.start.date()
                                           else "%Y-%m-%d %H:%M")
        return out + " UTC"


def acquisitions(engine: Engine, plate_ids: Sequence[int]) -> dict[int, list[Acquisition]]:
    """Each plate's acquisitions, oldest first (plates without any are left out). Access
    to the plates is the caller's to check."""
    out: dict[int, list[Acquisition]] = {}
    if not plate_ids:
        return out
    with engine.connect() as conn:
        for r in conn.execute(_ACQ_SQL, {"ids": list(plate_ids)}):
            out.setdefault(int(r.plate), []).append(Acquisition(
                int(r.id), r.name or f"Acquisition {r.id}", r.starttime, r.endtime,
                None if r.maximumfieldcount is None else int(r.maximumfieldcount)))
    return out


def physical_size(engine: Engine, pixels_id: int) -> tuple[float, str] | None:
    """OMERO's stored pixel size in X (value, unit symbol; "µm" when the unit is not
    stored), or None when unknown, not positive, or the database cannot answer."""
    try:
        with engine.connect() as conn:
            row = conn.execute(_SIZE_SQL, {"id": pixels_id}).first()
    except SQLAlchemyError:
        return None
    if row is None or row[0] is None or not row[0] > 0:
        return None
    return float(row[0]), str(row[1] or "µm")
