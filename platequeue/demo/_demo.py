"""The demo: a synthetic plate with known nuclei counts, queued and checked end to end."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect

from platequeue.errors import Conflict
from platequeue.settings import Settings
from platequeue.store import engine_for

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from platequeue.demo._manifest import DemoManifest


@dataclass
class Check:
    """Per-field comparison of measured nuclei counts with the ground truth."""

    fields: int
    matched: int
    mismatches: list[tuple[str, int, int, float]]

    @property
    def ok(self) -> bool:
        return self.fields > 0 and not self.mismatches


def manifest_path(settings: Settings) -> Path:
    return settings.omero_data_dir / "manifest.json"


def write_demo(settings: Settings, *, plates: int = 1, wells: int = 96, fields: int = 2,
               size: int = 256, seed: int = 0, full: bool = True) -> DemoManifest:
    """Generate the demo OMERO database and repository where the settings point.

    With *full* (the default) it also holds every group permission level, a 384-well
    plate with missing wells and three acquisitions, a float32 plate and the same pixels
    stored as ROMIO, OME-TIFF, pyramid and OME-Zarr, and (with Java and the Bio-Formats jar)
    FS-imported companion OME-TIFF, MetaXpress and synthetic plates
    (:func:`platequeue.demo.build_full`).
    """
    from platequeue.demo._fixture import build_demo
    from platequeue.omero import bioformats_config

    _refuse_non_empty(settings)
    settings.omero_data_dir.mkdir(parents=True, exist_ok=True)
    manifest = build_demo(settings.omero_db_url, settings.omero_data_dir, plates=plates,
                          wells=wells, fields=fields, size=size, seed=seed, full=full,
                          bioformats=bioformats_config(settings))
    log.info("demo repository written to %s", settings.omero_data_dir)
    return manifest


def _refuse_non_empty(settings: Settings) -> None:
    """One clear line instead of a constraint error when the database already has data."""
    if inspect(engine_for(settings.omero_db_url)).has_table("plate"):
        hint = (f"delete {settings.home / 'omero-demo'} to generate it again"
                if settings.omero_demo else "point OMERO_DB_URL at an empty database")
        raise Conflict(f"the OMERO database already holds plates (demo data was written "
                       f"before?); {hint}")


def load_manifest(settings: Settings) -> DemoManifest | None:
    from platequeue.demo._manifest import DemoManifest

    path = manifest_path(settings)
    return DemoManifest.load(path) if path.exists() else None


def check_counts(manifest: DemoManifest, plate_id: int, rows: list[dict[str, Any]]) -> Check:
    """Compare the ``count`` feature of each result row with the ground truth."""
    truth = manifest.plate(plate_id)
    mismatches = []
    for row in rows:
        expected = truth.count(row["well"], int(row["field"]))
        if float(row.get("count", -1)) != float(expected):
            mismatches.append((row["well"], int(row["field"]), expected,
                               float(row.get("count", -1))))
    return Check(fields=len(rows), matched=len(rows) - len(mismatches), mismatches=mismatches)
