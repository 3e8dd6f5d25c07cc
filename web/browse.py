"""What the plates list and a plate's page show beside OMERO's plate: its acquisitions
(OMERO ``plateacquisition`` rows: one per imaging run of the plate) and the last run of the
platform on it that the user may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, text

from platequeue import runs as run_service
from platequeue.platform import Platform
from web.auth import Identity

_ACQ_SQL = text("SELECT id, plate, name, starttime, endtime, maximumfieldcount "
                "FROM plateacquisition WHERE plate IN :ids ORDER BY plate, starttime, id"
                ).bindparams(bindparam("ids", expanding=True))


@dataclass(frozen=True)
class Acquisition:
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


def acquisitions(platform: Platform, plate_ids: Sequence[int]) -> dict[int, list[Acquisition]]:
    """Each plate's acquisitions, oldest first (plates without any are left out)."""
    out: dict[int, list[Acquisition]] = {}
    if not plate_ids:
        return out
    with platform.catalog.engine.connect() as conn:
        for r in conn.execute(_ACQ_SQL, {"ids": list(plate_ids)}):
            out.setdefault(int(r.plate), []).append(Acquisition(
                int(r.id), r.name or f"Acquisition {r.id}", r.starttime, r.endtime,
                None if r.maximumfieldcount is None else int(r.maximumfieldcount)))
    return out


def last_runs(platform: Platform, ident: Identity) -> dict[int, run_service.RunView]:
    """The newest run of each plate among those the user sees (theirs; all for operators)."""
    who = None if ident.sees_everything else ident.omename
    out: dict[int, run_service.RunView] = {}
    for view in run_service.list_runs(platform, omename=who, limit=1000):
        out.setdefault(view.plate_id, view)
    return out
