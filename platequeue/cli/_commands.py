"""The commands on runs, users, tokens, pipelines, demo data and Flower.

Domain imports stay inside the commands so ``platequeue --help`` starts fast.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from platequeue.cli._common import friendly, main, parse_channels, parse_params, platform_from_env
from platequeue.states import RunStatus


@main.command(epilog="Example: platequeue migrate")
@friendly
def migrate() -> None:
    """Bring the audit store up to the latest schema (Alembic)."""
    from platequeue.store import upgrade

    upgrade(platform_from_env().settings.database_url)
    click.echo("audit store is at the latest revision")


@main.command("demo-data", epilog="Example: platequeue demo-data --plates 2 --wells 384 --minimal")
@click.option("--plates", default=1, show_default=True, type=click.IntRange(1, 20),
              help="How many synthetic plates to write.")
@click.option("--wells", default=96, show_default=True, type=click.Choice(["96", "384"]),
              help="Plate format.")
@click.option("--fields", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Fields (images) per well.")
@click.option("--size", default=256, show_default=True, type=click.IntRange(64, 4096),
              help="Field width and height in pixels, at least 64. Smaller fields hold "
                   "fewer nuclei: as many as surely fit (one per field under 96 px).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Random seed: the same seed writes the same plates.")
@click.option("--full/--minimal", default=True, show_default=True,
              help="Also every permission level, a 384-well plate with gaps, a float32 plate "
                   "and OME-TIFF/pyramid/OME-Zarr plates.")
@friendly
def demo_data(plates: int, wells: str, fields: int, size: int, seed: int, full: bool) -> None:
    """Write synthetic plates (known nuclei counts) into the OMERO database and repository."""
    from platequeue.demo import write_demo

    manifest = write_demo(platform_from_env().settings, plates=plates, wells=int(wells),
                          fields=fields, size=size, seed=seed, full=full)
    for p in manifest.plates:
        click.echo(f"plate {p.id} {p.name!r}: {len(p.wells)} wells x {p.fields} fields, "
                   f"{p.total_nuclei} nuclei ({p.backend}, {p.pixels_type})")
    click.echo(f"OMERO database: {manifest.db_url}\nrepository: {manifest.data_dir}")


@main.command(epilog="Example: platequeue plates --user demo --json")
@click.option("--user", "omename", required=True, help="OMERO user name (omename).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@friendly
def plates(omename: str, as_json: bool) -> None:
    """Plates the OMERO user may read."""
    platform = platform_from_env()
    exp = platform.catalog.find_user(omename)
    if exp is None:
        raise click.ClickException(f"no OMERO experimenter named {omename!r}")
    found = platform.catalog.plates_for_user(exp.id)
    rows = [{"id": p.id, "name": p.name, "rows": p.rows, "columns": p.columns,
             "wells": p.wells, "fields": p.fields, "channels": list(p.channels),
             "screen": p.screen_name} for p in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'id':>8}  {'screen':<20} {'plate':<28} {'wells':>5} {'fields':>6}  channels")
    for r in rows:
        click.echo(f"{r['id']:>8}  {(r['screen'] or '-'):<20} {r['name']:<28} {r['wells']:>5} "
                   f"{r['fields']:>6}  {','.join(r['channels'])}")


def _summary(view: Any) -> dict[str, Any]:
    return {"run_id": view.run_id, "status": view.status, "wells_total": view.wells_total,
            "wells_done": view.wells_done, "wells_failed": view.wells_failed,
            "wells_skipped": view.wells_skipped}


@main.command(epilog="""Examples:

\b
  platequeue submit --user demo --plate 51 --pipeline nuclei-count
  platequeue submit --user demo --plate 51 --plate 52 --pipeline nuclei-count \\
      --channel nuclei=DAPI --param threshold.offset=0.1 --wait
  platequeue submit --user demo --plate 51 --pipeline nuclei-count --wait --json""")
@click.option("--user", "omename", required=True, help="OMERO user name the runs belong to.")
@click.option("--plate", "plate_ids", required=True, type=int, multiple=True,
              help="OMERO plate id; repeat for several plates (one run each).")
@click.option("--pipeline", required=True, help="Pipeline name (see `platequeue pipelines`).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Pipeline parameter; repeat for several.")
@click.option("--channel", "channels", multiple=True, metavar="ROLE=CHANNEL",
              help="Map a pipeline channel role to a channel name or index, e.g. nuclei=DAPI.")
@click.option("--wait", is_flag=True,
              help="Show a progress bar (wells done/failed, ETA) until every run ends; exit 0 "
                   "only if all succeeded.")
@click.option("--incremental", is_flag=True,
              help="Skip wells whose images and pipeline are unchanged (results copied).")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (one object for one plate, a list for several); no progress bar.")
@friendly
def submit(omename: str, plate_ids: tuple[int, ...], pipeline: str, params: tuple[str, ...],
           channels: tuple[str, ...], wait: bool, incremental: bool, as_json: bool) -> None:
    """Queue a run of PIPELINE over each plate as the named OMERO user."""
    from platequeue import runs
    from platequeue.cli._progress import wait_for_runs
    from platequeue.queue import check_broker

    parsed = {**parse_params(params), **parse_channels(channels)}
    platform = platform_from_env()
    check_broker(platform.settings)
    views = [runs.submit(platform, omename=omename, plate_id=pid, pipeline=pipeline,
                         params=parsed, actor=f"cli:{omename}", incremental=incremental)
             for pid in plate_ids]
    if wait:
        views = wait_for_runs(platform, [v.run_id for v in views], bar=not as_json)
    if as_json:
        out = [_summary(v) for v in views]
        click.echo(json.dumps(out[0] if len(out) == 1 else out))
    else:
        for view in views:
            click.echo(f"run {view.run_id} {view.status}: {view.wells_done}/{view.wells_total} "
                       f"wells done, {view.wells_failed} failed, {view.wells_skipped} skipped "
                       f"(unchanged)")
    if wait and any(v.status != RunStatus.SUCCEEDED for v in views):
        sys.exit(1)


@main.command(epilog="Example: platequeue status 7 --json")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@friendly
def status(run_id: int, as_json: bool) -> None:
    """Show a run's state and counts."""
    from platequeue import runs

    view = runs.status(platform_from_env(), run_id)
    if as_json:
        click.echo(json.dumps(view.to_json(), indent=2))
    else:
        click.echo(f"run {view.run_id} [{view.status}] {view.pipeline} {view.pipeline_version} "
                   f"on plate {view.plate_id} ({view.plate_name}) for {view.user}: "
                   f"{view.wells_done}/{view.wells_total} done, {view.wells_failed} failed, "
                   f"{view.wells_running} running")


@main.command(epilog="Example: platequeue cancel 7")
@click.argument("run_id", type=int)
@friendly
def cancel(run_id: int) -> None:
    """Cancel a run: queued wells never start, running wells stop at their next check."""
    from platequeue import runs
    from platequeue.accounts import policy

    platform = platform_from_env()
    ident = policy.Identity.command_line()
    policy.check_run(platform, ident, policy.Action.CANCEL, runs.status(platform, run_id))
    view = runs.cancel(platform, run_id, actor="cli")
    click.echo(f"run {view.run_id} {view.status}")


@main.command("rerun-failed", epilog="Example: platequeue rerun-failed 7")
@click.argument("run_id", type=int)
@friendly
def rerun_failed(run_id: int) -> None:
    """Queue the failed wells of a partial or failed run again."""
    from platequeue import runs
    from platequeue.accounts import policy

    platform = platform_from_env()
    ident = policy.Identity.command_line()
    policy.check_run(platform, ident, policy.Action.RERUN, runs.status(platform, run_id))
    view = runs.rerun_failed(platform, run_id, actor="cli")
    queued = view.wells_total - view.wells_done
    click.echo(f"run {view.run_id} {view.status}: {queued} wells queued")


@main.command(epilog="""Examples:

\b
  platequeue results 7 > run-7.csv
  platequeue results 7 --format json
  platequeue results 7 --format parquet -o run-7.parquet""")
@click.argument("run_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet"]), default="csv",
              show_default=True,
              help="CSV, JSON (a list of row objects) or Parquet (typed columns).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output (Parquet needs a file or a "
                   "pipe).")
@friendly
def results(run_id: int, fmt: str, output: str | None) -> None:
    """One row per well and field with every measured feature."""
    from platequeue import runs

    if fmt == "parquet" and output is None and sys.stdout.isatty():
        raise click.UsageError("Parquet is binary: give -o FILE or redirect standard output")
    columns, rows = runs.results(platform_from_env(), run_id)
    data = (runs.results_parquet(columns, rows) if fmt == "parquet"
            else runs.render_results(columns, rows, fmt).encode())
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        with open(output, "wb") as fh:
            fh.write(data)
        click.echo(f"wrote {len(rows)} rows to {output}", err=True)


@main.command("pipelines", epilog="Example: platequeue pipelines --json")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with every parameter.")
@friendly
def pipelines_cmd(as_json: bool) -> None:
    """Built-in pipelines and their parameters."""
    from sqlalchemy.exc import SQLAlchemyError

    from pipelines import registry
    from platequeue.accounts import pipeline_admin

    try:
        off = pipeline_admin.disabled(platform_from_env())
    except SQLAlchemyError:  # no audit store yet (before `platequeue migrate`): none disabled
        off = set()
    listing: list[dict[str, Any]] = [
        {"name": p.name, "version": p.version, "hash": p.hash, "gpu": p.gpu,
         "enabled": p.name not in off, "parameters": p.parameters()}
        for p in map(registry.get, registry.names())]
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    for p in listing:
        click.echo(f"{p['name']} {p['version']} ({p['hash'][:12]}){' gpu' if p['gpu'] else ''}"
                   f"{'' if p['enabled'] else ' DISABLED'}")
        for name, decl in p["parameters"].items():
            click.echo(f"    {name} = {decl.get('default')!r}  {decl.get('description', '')}")


@main.group()
def token() -> None:
    """API tokens for the JSON API, the Python client and scripts."""


@token.command("create",
               epilog="Example: platequeue token create --user demo --scope submit --days 90")
@click.option("--user", "omename", required=True, help="OMERO user name the token acts as.")
@click.option("--scope", type=click.Choice(["read", "submit"]), default="read", show_default=True,
              help="read: look only; submit: also queue, cancel and rerun.")
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True,
              help="Days until the token expires.")
@click.option("--name", default="cli", show_default=True,
              help="A label to recognise the token by.")
@friendly
def token_create(omename: str, scope: str, days: int, name: str) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    from platequeue.accounts import ensure_user, tokens

    platform = platform_from_env()
    user = ensure_user(platform, omename)
    click.echo(tokens.create(platform, user.id, name=name, scope=scope, days=days))


@main.group()
def user() -> None:
    """Platform accounts."""


@user.command("role", epilog="Example: platequeue user role alice operator")
@click.argument("omename")
@click.argument("role", type=click.Choice(["user", "developer", "operator", "admin"]))
@friendly
def user_role(omename: str, role: str) -> None:
    """Give OMENAME the ROLE (effective at once, audited). developer: user rights plus
    custom steps (CUSTOM_STEPS=true); operators and admins are not developers."""
    from platequeue.accounts import set_role

    before = set_role(platform_from_env(), omename, role, actor="cli")
    click.echo(f"{omename}: {before} -> {role}")


@main.command(epilog="Example: platequeue flower --print-command")
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Listen address (nginx proxies /flower/ to it).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Listen port [default: FLOWER_PORT, 5555].")
@click.option("--print-command", is_flag=True, help="Print the command line; start nothing.")
@friendly
def flower(address: str, port: int | None, print_command: bool) -> None:
    """Flower for operators under /FLOWER_URL_PREFIX/ (behind nginx's operator gate)."""
    import os
    import shlex

    from platequeue.cli._flower import flower_proc
    from platequeue.settings import get_settings

    proc = flower_proc(get_settings(), address=address, port=port)
    if print_command:
        click.echo(shlex.join(proc.argv))
        return
    os.execv(proc.argv[0], proc.argv)
