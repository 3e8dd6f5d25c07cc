"""Incremental reprocessing: skip a well whose inputs and pipeline are unchanged.

A well's *input fingerprint* is the SHA-256 of its sorted pixels ids, each with the size and
``mtime_ns`` of its ROMIO file ``Pixels/<id>`` (for FS-imported images read through Bio-Formats
or OME-TIFF: of every file of the image's fileset), the pipeline hash and the resolved
parameters.
A worker records it on the well when the well succeeds (:func:`fingerprint`); a submission
with ``incremental=True`` marks a well ``skipped`` when an earlier succeeded (or skipped) well
has the same fingerprint, and copies that well's measurements into the new run, so results
stay complete. Skipped wells count as done: a run whose wells were all skipped finishes
``succeeded`` at once. A well whose pixels have neither a ROMIO file nor fileset files gets no
fingerprint and is never skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import insert, literal, select, update
from sqlalchemy.orm import Session

from platequeue.omero import UnsafePathError, WellRef, fileset_files, romio_path
from platequeue.platform import Platform
from platequeue.queue import record_wells
from platequeue.runs._finalize import finalize
from platequeue.store import Measurement, Run, WellStatus, WellTask, utcnow

log = logging.getLogger(__name__)

REUSABLE = (WellStatus.SUCCEEDED.value, WellStatus.SKIPPED.value)
_CHUNK = 500


def fingerprint(root: str | os.PathLike[str], pixels_ids: Iterable[int], pipeline_hash: str,
                params: Mapping[str, Any],
                filesets: Mapping[int, Sequence[Path]] | None = None) -> str | None:
    """The input fingerprint of one well, or None when a pixels file cannot be stat'ed.

    An image without ``Pixels/<id>`` counts its fileset's files instead (*filesets*: pixels
    id -> local paths, :func:`platequeue.omero._filesets.fileset_files`), each by size and
    ``mtime_ns``.
    """
    files: list[list[Any]] = []
    for pid in sorted(set(int(p) for p in pixels_ids)):
        try:
            st = romio_path(root, pid).stat()
        except (OSError, UnsafePathError):
            entry = _fileset_entry(pid, (filesets or {}).get(pid))
            if entry is None:
                return None
            files.append(entry)
            continue
        files.append([pid, st.st_size, st.st_mtime_ns])
    if not files:
        return None
    blob = json.dumps({"pixels": files, "pipeline": pipeline_hash, "params": dict(params)},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _fileset_entry(pid: int, paths: Sequence[Path] | None) -> list[Any] | None:
    if not paths:
        return None
    try:
        stats = [(str(p), p.stat()) for p in paths]
    except OSError:
        return None
    return [pid, [[name, st.st_size, st.st_mtime_ns] for name, st in stats]]


def well_fingerprints(root: Path, wells: Sequence[WellRef], pipeline_hash: str,
                      params: Mapping[str, Any],
                      filesets: Mapping[int, Sequence[Path]] | None = None) -> dict[int, str]:
    """Fingerprints by well id (wells without one left out)."""
    out: dict[int, str] = {}
    for w in wells:
        fp = fingerprint(root, (f.pixels_id for f in w.fields), pipeline_hash, params,
                         filesets)
        if fp is not None:
            out[w.id] = fp
    return out


def _sources(s: Session, fps: dict[int, str]) -> dict[int, int]:
    """For each well id, the run of its newest reusable well with the same fingerprint."""
    wanted = {fp: wid for wid, fp in fps.items()}
    found: dict[int, tuple[int, int]] = {}  # well id -> (well task id, run id)
    keys = list(wanted)
    for start in range(0, len(keys), _CHUNK):
        rows = s.execute(
            select(WellTask.id, WellTask.run_id, WellTask.well_id, WellTask.input_fingerprint)
            .join(Run, Run.id == WellTask.run_id)
            .where(WellTask.input_fingerprint.in_(keys[start:start + _CHUNK]),
                   WellTask.status.in_(REUSABLE), Run.purged_at.is_(None))).all()
        for wt_id, run_id, well_id, fp in rows:
            if fp is None or wanted.get(fp) != well_id:
                continue
            if well_id not in found or wt_id > found[well_id][0]:
                found[well_id] = (wt_id, run_id)
    return {wid: run_id for wid, (_wt, run_id) in found.items()}


def apply(s: Session, platform: Platform, run: Run, wells: Sequence[WellRef]) -> int:
    """Mark the unchanged wells of a just-written run ``skipped`` and copy their measurements.

    Called inside the submit transaction after the well rows were flushed; returns how many
    wells were skipped (also added to ``wells_done`` and stored as ``wells_skipped``).
    """
    filesets = fileset_files(platform.omero, platform.reader,
                             [f.pixels_id for w in wells for f in w.fields])
    fps = well_fingerprints(platform.settings.omero_data_dir, wells, run.pipeline_hash,
                            run.params, filesets)
    sources = _sources(s, fps) if fps else {}
    if not sources:
        return 0
    now = utcnow()
    by_source: dict[int, list[int]] = defaultdict(list)
    for well_id, src in sources.items():
        by_source[src].append(well_id)
    for src, well_ids in by_source.items():
        for start in range(0, len(well_ids), _CHUNK):
            chunk = well_ids[start:start + _CHUNK]
            s.execute(insert(Measurement).from_select(
                ["run_id", "well_id", "field", "image_id", "feature", "value"],
                select(literal(run.id), Measurement.well_id, Measurement.field,
                       Measurement.image_id, Measurement.feature, Measurement.value)
                .where(Measurement.run_id == src, Measurement.well_id.in_(chunk))))
    for well_id in sources:
        s.execute(update(WellTask)
                  .where(WellTask.run_id == run.id, WellTask.well_id == well_id)
                  .values(status=WellStatus.SKIPPED.value, input_fingerprint=fps[well_id],
                          started_at=now, finished_at=now))
    n = len(sources)
    run.wells_skipped = n
    run.wells_done = n
    log.info("run %d: %d of %d wells unchanged, measurements copied", run.id, n, len(wells))
    return n


def after_submit(platform: Platform, run_id: int, skipped: int, total: int) -> None:
    """After commit: count the skipped wells; a run with nothing left to compute finishes
    now (``succeeded``), like any other."""
    if skipped:
        record_wells(platform, WellStatus.SKIPPED.value, n=skipped)
    if skipped and skipped >= total:
        finalize(platform, run_id)
