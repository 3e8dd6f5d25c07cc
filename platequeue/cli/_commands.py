"""The commands on runs, users, tokens, pipelines, demo data and Flower.

Domain imports stay inside the commands so ``platequeue --help`` starts fast.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from platequeue.cli._common import friendly, main, parse_params, platform_from_env
from platequeue.states import TERMINAL_RUN, RunStatus


@main.command()
@friendly
def migrate() -> None:
    """Bring the audit store up to the latest schema (Alembic)."""
    from platequeue.store import upgrade

    upgrade(platform_from_env().settings.database_url)
    click.echo("audit store is at the latest revision")


@main.command("demo-data")
@click.option("--plates", default=1, show_default=True, type=click.IntRange(1, 20))
@click.option("--wells", default=96, show_default=True, type=click.Choice(["96", "384"]))
@click.option("--fields", default=2, show_default=True, type=click.IntRange(1, 16))
@click.option("--size", default=256, show_default=True, type=click.IntRange(64, 4096),
              help="Field width and height in pixels.")
@click.option("--seed", default=0, show_default=True, type=int)
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


@main.command()
@click.option("--user", "omename", required=True, help="OMERO user name (omename).")
@click.option("--json", "as_json", is_flag=True)
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


def _wait(platform: Any, run_id: int, *, quiet: bool) -> Any:
    from platequeue import runs

    last = ""
    while True:
        view = runs.status(platform, run_id)
        ended = view.wells_done + view.wells_failed
        line = (f"run {run_id}: {view.status} {ended}/{view.wells_total} wells"
                f" ({view.wells_failed} failed, {view.wells_running} running)")
        if not quiet and line != last:
            click.echo(line, err=True)
            last = line
        if view.status in TERMINAL_RUN:
            return view
        time.sleep(0.5)


@main.command()
@click.option("--user", "omename", required=True)
@click.option("--plate", "plate_id", required=True, type=int)
@click.option("--pipeline", required=True)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE")
@click.option("--wait", is_flag=True, help="Show progress; exit 0 only if the run succeeded.")
@click.option("--incremental", is_flag=True,
              help="Skip wells whose images and pipeline are unchanged (results copied).")
@click.option("--json", "as_json", is_flag=True)
@friendly
def submit(omename: str, plate_id: int, pipeline: str, params: tuple[str, ...], wait: bool,
           incremental: bool, as_json: bool) -> None:
    """Queue a run of PIPELINE over a plate as the named OMERO user."""
    from platequeue import runs
    from platequeue.queue import check_broker

    parsed = parse_params(params)
    platform = platform_from_env()
    check_broker(platform.settings)
    view = runs.submit(platform, omename=omename, plate_id=plate_id, pipeline=pipeline,
                       params=parsed, actor=f"cli:{omename}", incremental=incremental)
    if wait:
        view = _wait(platform, view.run_id, quiet=as_json)
    click.echo(json.dumps(_summary(view)) if as_json else
               f"run {view.run_id} {view.status}: {view.wells_done}/{view.wells_total} wells done,"
               f" {view.wells_failed} failed, {view.wells_skipped} skipped (unchanged)")
    if wait and view.status != RunStatus.SUCCEEDED:
        sys.exit(1)


@main.command()
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True)
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


@main.command()
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


@main.command("rerun-failed")
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


@main.command()
@click.argument("run_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@friendly
def results(run_id: int, fmt: str) -> None:
    """One row per well and field with every measured feature."""
    from platequeue import runs

    columns, rows = runs.results(platform_from_env(), run_id)
    click.echo(runs.render_results(columns, rows, fmt), nl=False)


@main.command("pipelines")
@click.option("--json", "as_json", is_flag=True)
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


@token.command("create")
@click.option("--user", "omename", required=True)
@click.option("--scope", type=click.Choice(["read", "submit"]), default="read", show_default=True)
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True)
@click.option("--name", default="cli", show_default=True)
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


@user.command("role")
@click.argument("omename")
@click.argument("role", type=click.Choice(["user", "developer", "operator", "admin"]))
@friendly
def user_role(omename: str, role: str) -> None:
    """Give OMENAME the ROLE (effective at once, audited). developer: user rights plus
    custom steps (CUSTOM_STEPS=true); operators and admins are not developers."""
    from platequeue.accounts import set_role

    before = set_role(platform_from_env(), omename, role, actor="cli")
    click.echo(f"{omename}: {before} -> {role}")


@main.command()
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
