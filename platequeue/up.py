"""``platequeue up``: prepare a local installation and, with ``--demo``, run the demo job."""

from __future__ import annotations

import logging
import time

import click

from platequeue import runs
from platequeue.demo import check_counts, load_manifest, write_demo
from platequeue.migrate import upgrade
from platequeue.platform import get_platform
from platequeue.settings import Settings

log = logging.getLogger(__name__)
DEMO_USER = "demo"


def prepare(settings: Settings) -> None:
    """Migrate the audit store; generate the demo repository if OMERO_DB_URL is unset."""
    upgrade(settings.database_url)
    if settings.omero_demo and load_manifest(settings) is None:
        click.echo("generating the demo plate (96 wells x 2 fields, 2 channels)...", err=True)
        write_demo(settings)


def run_demo(settings: Settings, timeout: float = 900.0) -> int:
    """Queue the demo plate, follow it, compare per-field counts with the ground truth."""
    manifest = load_manifest(settings)
    if manifest is None:
        click.echo("no demo manifest: OMERO_DB_URL points at a real OMERO; nothing to demo",
                   err=True)
        return 1
    platform = get_platform()
    plate = manifest.plates[0]
    view = runs.submit(platform, omename=DEMO_USER, plate_id=plate.id,
                       pipeline="nuclei-count", actor="demo")
    click.echo(f"run {view.run_id}: {plate.name} ({view.wells_total} wells) queued on "
               f"'{view.queue}'", err=True)
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        view = runs.status(platform, view.run_id)
        ended = view.wells_done + view.wells_failed
        if ended != last:
            click.echo(f"  {view.status}: {ended}/{view.wells_total} wells", err=True)
            last = ended
        if view.status in ("succeeded", "partial", "failed", "cancelled"):
            break
        time.sleep(0.5)
    _columns, rows = runs.results(platform, view.run_id)
    check = check_counts(manifest, plate.id, rows)
    click.echo(f"run {view.run_id} {view.status}: {check.matched}/{check.fields} fields match "
               f"the ground truth ({plate.total_nuclei} nuclei drawn)")
    for well, field, expected, got in check.mismatches[:10]:
        click.echo(f"  mismatch {well} field {field}: expected {expected}, measured {got:g}")
    return 0 if view.status == "succeeded" and check.ok else 1
