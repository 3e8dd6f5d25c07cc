"""``platequeue sources``: which source serves each image and whether it reads on this host."""

from __future__ import annotations

import json
import sys

import click


@click.command("sources", epilog="Examples: platequeue sources --plate 51; "
               "platequeue sources --all --no-read --json > sources.json")
@click.option("--plate", "plate_id", type=int, help="One plate.")
@click.option("--screen", "screen_id", type=int, help="Every plate of a screen.")
@click.option("--all", "all_plates", is_flag=True, help="Every plate in OMERO.")
@click.option("--no-read", is_flag=True,
              help="Only resolve sources and files (no sample read, no JVM).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per plate (summary and every image) instead of text.")
def sources(plate_id: int | None, screen_id: int | None, all_plates: bool, no_read: bool,
            as_json: bool) -> None:
    """Per image: the source serving it (NGFF, pyramid, ROMIO, OME-TIFF, Bio-Formats), the
    Bio-Formats reader, and whether a sample read succeeds here (and why not). Exits 1 when
    some image cannot be read."""
    from platequeue.cli._common import platform_from_env
    from platequeue.omero import scan

    if (plate_id is not None) + (screen_id is not None) + all_plates != 1:
        raise click.UsageError("give exactly one of --plate, --screen, --all")
    platform = platform_from_env()
    ids = scan.plate_ids(platform.catalog, plate=plate_id, screen=screen_id)
    scans = scan.scan_plates(platform.catalog, platform.reader, ids, sample=not no_read)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in scans], indent=1))
    else:
        click.echo(scan.render(scans), nl=False)
    if any(i.reason for s in scans for i in s.images):
        sys.exit(1)


def register(group: click.Group) -> None:
    group.add_command(sources)
