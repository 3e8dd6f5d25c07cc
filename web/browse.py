"""What the plates list and a plate's page show beside OMERO's plate: its acquisitions
(OMERO ``plateacquisition`` rows: one per imaging run of the plate) and the last run of the
platform on it that the user may see."""

from __future__ import annotations

from collections.abc import Sequence

from platequeue import omero
from platequeue import runs as run_service
from platequeue.omero import Acquisition
from platequeue.platform import Platform
from web.auth import Identity

__all__ = ["Acquisition", "acquisitions", "last_runs"]


def acquisitions(platform: Platform, plate_ids: Sequence[int]) -> dict[int, list[Acquisition]]:
    """Each plate's acquisitions, oldest first (plates without any are left out)."""
    return omero.acquisitions(platform.catalog.engine, plate_ids)


def last_runs(platform: Platform, ident: Identity) -> dict[int, run_service.RunView]:
    """The newest run of each plate among those the user sees (theirs; all for operators)."""
    who = None if ident.sees_everything else ident.omename
    out: dict[int, run_service.RunView] = {}
    for view in run_service.list_runs(platform, omename=who, limit=1000):
        out.setdefault(view.plate_id, view)
    return out
