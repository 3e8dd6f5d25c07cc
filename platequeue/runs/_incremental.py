"""Incremental reprocessing: skip a well whose inputs and pipeline are unchanged.

A well's *input fingerprint* is the SHA-256 of its sorted pixels ids, each with the size and
``mtime_ns`` of the files its source reads (:meth:`RepositoryReader.input_files`: the ROMIO
file ``Pixels/<id>``, the pyramid, an OME-Zarr level-0 array's metadata and chunk files, or,
for an original file read through Bio-Formats or as OME-TIFF, every file of the image's
fileset), the pipeline hash and the resolved parameters.
A worker records it on the well when the well succeeds (:func:`fingerprint`); a submission
with ``incremental=True`` marks a well ``skipped`` when an earlier succeeded (or skipped) well
has the same fingerprint, and copies that well's measurements into the new run, so results
stay complete. Skipped wells count as done: a run whose wells were all skipped finishes
``succeeded`` at once. A well any of whose files cannot be found or stat'ed (or lies outside
the allowed roots) gets no fingerprint and is never skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, literal, select, update
from sqlalchemy.orm import Session

from platequeue.omero import PixelsInfo, WellRef, fileset_files
from platequeue.platform import Platform
from platequeue.queue import record_wells
from platequeue.runs._finalize import finalize
from platequeue.store import Measurement, Run, WellStatus, WellTask, utcnow

if TYPE_CHECKING:
    from platequeue.omero import RepositoryReader

log = logging.getLogger(__name__)

REUSABLE = (WellStatus.SUCCEEDED.value, WellStatus.SKIPPED.value)
_CHUNK = 500


def _entry(reader: RepositoryReader, info: PixelsInfo,
           filesets: Mapping[int, Sequence[Path]] | None) -> list[Any] | None:
    from platequeue.omero import Source  # the readers load where fingerprints are taken

    try:
        kind, files = reader.input_files(info)
        fileset = (filesets or {}).get(info.id)
        if kind in (Source.ORIGINAL, Source.BIOFORMATS) and fileset:
            files = [(str(p), p) for p in fileset]
        stats = [(name, path.stat()) for name, path in files]
    except (OSError, ValueError):  # missing, refused (UnsafePathError) or unreadable metadata
        return None
    if kind is Source.ROMIO:  # the original form: fingerprints recorded before stay valid
        return [info.id, stats[0][1].st_size, stats[0][1].st_mtime_ns]
    return [info.id, kind.value, sorted([name, st.st_size, st.st_mtime_ns]
                                        for name, st in stats)]


def fingerprint(reader: RepositoryReader, infos: Iterable[PixelsInfo], pipeline_hash: str,
                params: Mapping[str, Any],
                filesets: Mapping[int, Sequence[Path]] | None = None) -> str | None:
    """The input fingerprint of one well (its fields' pixels), or None when a file of one
    cannot be stat'ed. *filesets* (pixels id -> local paths,
    :func:`platequeue.omero.fileset_files`) lists the files of FS-imported images."""
    files: list[list[Any]] = []
    for info in sorted({i.id: i for i in infos}.values(), key=lambda i: i.id):
        entry = _entry(reader, info, filesets)
        if entry is None:
            return None
        files.append(entry)
    if not files:
        return None
    blob = json.dumps({"pixels": files, "pipeline": pipeline_hash, "params": dict(params)},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def well_fingerprints(reader: RepositoryReader, pixels: Mapping[int, PixelsInfo],
                      wells: Sequence[WellRef], pipeline_hash: str,
                      params: Mapping[str, Any],
                      filesets: Mapping[int, Sequence[Path]] | None = None) -> dict[int, str]:
    """Fingerprints by well id (wells without one, or with a field without pixels, left out);
    *pixels* maps image id -> pixels."""
    out: dict[int, str] = {}
    for w in wells:
        if any(f.image_id not in pixels for f in w.fields):
            continue
        fp = fingerprint(reader, (pixels[f.image_id] for f in w.fields), pipeline_hash, params,
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
    pixels = platform.catalog.pixels_many([f.image_id for w in wells for f in w.fields])
    filesets = fileset_files(platform.omero, platform.reader, [p.id for p in pixels.values()])
    fps = well_fingerprints(platform.reader, pixels, wells, run.pipeline_hash, run.params,
                            filesets)
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
