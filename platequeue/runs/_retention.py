"""Retention: purge the wells and measurements of runs older than ``RETENTION_DAYS``.

The run row and its audit trail stay (``purged_at`` is set); a schedule's last run is kept,
since incremental reprocessing compares against it. Fired hourly by beat.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from platequeue.platform import Platform
from platequeue.states import TERMINAL_RUN
from platequeue.store import (
    Measurement,
    Run,
    Schedule,
    WellTask,
    affected,
    audit,
    session_scope,
    utcnow,
)

log = logging.getLogger(__name__)


def retention(platform: Platform, now: datetime | None = None) -> dict[str, int]:
    """Purge the results of runs older than ``RETENTION_DAYS`` (0: off); audited per run."""
    days = platform.settings.retention_days
    out = {"runs": 0, "wells": 0, "measurements": 0}
    if days <= 0:
        return out
    cutoff = (now or utcnow()) - timedelta(days=days)
    with session_scope(platform.audit) as s:
        keep = select(Schedule.last_run_id).where(Schedule.last_run_id.is_not(None))
        old = list(s.scalars(select(Run.id).where(
            Run.status.in_([st.value for st in TERMINAL_RUN]), Run.finished_at < cutoff,
            Run.purged_at.is_(None), Run.id.not_in(keep)).order_by(Run.id)))
    for run_id in old:
        with session_scope(platform.audit) as s:
            claimed = affected(s.execute(update(Run).where(Run.id == run_id,
                                                           Run.purged_at.is_(None))
                                         .values(purged_at=utcnow())))
            if not claimed:  # another sweep took it
                continue
            n_meas = affected(s.execute(delete(Measurement).where(Measurement.run_id == run_id)))
            n_wells = affected(s.execute(delete(WellTask).where(WellTask.run_id == run_id)))
            audit(s, "platequeue", "retention", run_id, measurements=n_meas, wells=n_wells,
                  retention_days=days)
        out["runs"] += 1
        out["wells"] += n_wells
        out["measurements"] += n_meas
    if out["runs"]:
        log.info("retention: purged %s", out)
    return out
