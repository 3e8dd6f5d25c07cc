"""``platequeue up``: prepare a local installation and, with ``--demo``, run the demo job."""

from __future__ import annotations

import logging
import time

import click

from platequeue import runs
from platequeue.accounts import QuotaExceeded
from platequeue.demo import check_counts, load_manifest, write_demo
from platequeue.platform import Platform, get_platform
from platequeue.settings import Settings
from platequeue.states import TERMINAL_RUN, RunStatus
from platequeue.store import upgrade

log = logging.getLogger(__name__)
DEMO_USER = "demo"


def prepare(settings: Settings) -> None:
    """Migrate the audit store; generate the demo repository if OMERO_DB_URL is unset."""
    upgrade(settings.database_url)
    if settings.omero_demo and load_manifest(settings) is None:
        click.echo("generating the demo OMERO (96- and 384-well plates, every storage kind)...",
                   err=True)
        write_demo(settings)


def run_demo(settings: Settings, timeout: float = 900.0) -> int:
    """Queue the demo plates, follow them, compare per-field counts with the ground truth.

    Demo plate 1 (96 wells), the 384-well plate with missing wells, the float32 plate,
    the four plates holding the same pixels as ROMIO, OME-TIFF, pyramid and OME-Zarr and,
    where the demo data has them, the FS-imported plates read through Bio-Formats
    (companion OME-TIFF, MetaXpress, synthetic; the last one's ground truth is nuclei-count
    on a plain Bio-Formats read).
    """
    manifest = load_manifest(settings)
    if manifest is None:
        click.echo("no demo manifest: OMERO_DB_URL points at a real OMERO; nothing to demo",
                   err=True)
        return 1
    platform = get_platform()
    deadline = time.monotonic() + timeout
    ok = True
    # One run after another: the demo user's quota of concurrent runs applies to it too.
    for plate in [p for p in manifest.plates if p.owner_id == manifest.user_id]:
        view = _submit_within_quota(platform, plate.id, deadline)
        click.echo(f"run {view.run_id}: {plate.name} ({view.wells_total} wells, "
                   f"{plate.backend}, {plate.pixels_type}) queued on '{view.queue}'", err=True)
        view = _follow(platform, view.run_id, deadline)
        _columns, rows = runs.results(platform, view.run_id)
        check = check_counts(manifest, plate.id, rows)
        click.echo(f"run {view.run_id} {view.status}: {plate.name}: {check.matched}/"
                   f"{check.fields} fields match the ground truth ({plate.total_nuclei} "
                   f"nuclei drawn)")
        for well, field, expected, got in check.mismatches[:10]:
            click.echo(f"  mismatch {well} field {field}: expected {expected}, measured {got:g}")
        ok = ok and view.status == RunStatus.SUCCEEDED and check.ok
    return 0 if ok else 1


def _submit_within_quota(platform: Platform, plate_id: int,
                         deadline: float) -> runs.RunView:
    """Submit as the demo user; when the per-minute quota refuses, wait as it says (the
    demo queues more plates than a user may in one minute)."""
    while True:
        try:
            return runs.submit(platform, omename=DEMO_USER, plate_id=plate_id,
                               pipeline="nuclei-count", actor="demo")
        except QuotaExceeded as exc:
            if time.monotonic() + exc.retry_after > deadline:
                raise
            click.echo(f"{exc}; waiting", err=True)
            time.sleep(exc.retry_after)


def _follow(platform: Platform, run_id: int, deadline: float) -> runs.RunView:
    last = -1
    while True:
        view = runs.status(platform, run_id)
        ended = view.wells_done + view.wells_failed
        if ended != last:
            click.echo(f"  {view.status}: {ended}/{view.wells_total} wells", err=True)
            last = ended
        if view.status in TERMINAL_RUN:
            return view
        if time.monotonic() > deadline:
            click.echo(f"  run {run_id}: gave up waiting", err=True)
            return view
        time.sleep(0.5)
