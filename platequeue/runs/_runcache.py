"""What a worker process keeps per run while it works on the run's wells.

Every well of a run needs the same facts — the pipeline, its parameters, the channel
mapping, the owner — and the same OMERO metadata — the plate's wells, their fields and the
fields' pixels. Those do not change while a run is in flight (parameters are fixed at
submission; OMERO's plate layout is written once at import), so the first well of a run in
a process reads them once and later wells reuse them: a well then costs one claim
statement instead of four, and no OMERO metadata query at all. The per-well state (status,
attempts, fencing) is never cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from platequeue.omero import PixelsInfo, WellRef
from platequeue.platform import Platform
from platequeue.store import Run, RunStatus, utcnow

MAX_RUNS = 16


@dataclass(frozen=True)
class RunFacts:
    run_id: int
    plate_id: int
    pipeline: str
    params: dict[str, Any]
    channels: list[str]
    user_id: int
    custom_step: int | None


@dataclass(frozen=True)
class PlateLayout:
    wells: dict[int, WellRef]
    pixels: dict[int, PixelsInfo]  # by image id


_facts: OrderedDict[tuple[str, int], RunFacts] = OrderedDict()
_layouts: OrderedDict[tuple[str, int], PlateLayout] = OrderedDict()
_lock = threading.Lock()


def _remember(cache: OrderedDict[tuple[str, int], Any], key: tuple[str, int], value: Any) -> None:
    with _lock:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > MAX_RUNS:
            cache.popitem(last=False)


def run_facts(platform: Platform, s: Session, run_id: int) -> RunFacts:
    """The run's fixed facts; on the first well of the run in this process it also marks a
    queued run running (a conditional update: whichever process is first wins)."""
    key = (platform.settings.database_url, run_id)
    found = _facts.get(key)
    if found is not None:
        return found
    row = s.execute(select(Run.plate_id, Run.pipeline_name, Run.params, Run.channels,
                           Run.user_id, Run.custom_step_id).where(Run.id == run_id)).one()
    s.execute(update(Run).where(Run.id == run_id, Run.status == RunStatus.QUEUED.value)
              .values(status=RunStatus.RUNNING.value, started_at=utcnow()))
    facts = RunFacts(run_id, int(row.plate_id), row.pipeline_name, dict(row.params or {}),
                     list(row.channels or []), int(row.user_id), row.custom_step_id)
    _remember(_facts, key, facts)
    return facts


class _RunRef(Protocol):
    @property
    def run_id(self) -> int: ...

    @property
    def plate_id(self) -> int: ...


def well_and_pixels(platform: Platform, facts: _RunRef,
                    well_id: int) -> tuple[WellRef | None, dict[int, PixelsInfo]]:
    """The well (with its fields) and its fields' pixels, from the plate's layout, read
    from OMERO once per run and process. A well the layout lacks is looked up directly."""
    key = (platform.settings.omero_db_url, facts.run_id)
    layout = _layouts.get(key)
    if layout is None:
        catalog = platform.catalog
        wells = {w.id: w for w in catalog.wells(facts.plate_id)}
        pixels = catalog.pixels_many([f.image_id for w in wells.values() for f in w.fields])
        layout = PlateLayout(wells, pixels)
        _remember(_layouts, key, layout)
    well = layout.wells.get(well_id)
    if well is None:  # not in the plate's layout (moved or removed): ask OMERO itself
        well = platform.catalog.well(well_id)
        if well is None:
            return None, {}
        return well, platform.catalog.pixels_many([f.image_id for f in well.fields])
    return well, layout.pixels

