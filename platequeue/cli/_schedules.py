"""``platequeue schedule create|list|delete|pause|resume``: recurring (re)processing."""

from __future__ import annotations

import json

import click

from platequeue.cli import _common as cli


@click.group()
def schedule() -> None:
    """Cron schedules that reprocess a plate or a screen (incrementally)."""


@schedule.command("create", epilog="""Examples:

\b
  platequeue schedule create --user demo --cron "0 2 * * *" --tz Europe/Berlin \\
      --plate 51 --pipeline nuclei-count
  platequeue schedule create --user demo --cron "30 6 * * 1-5" --screen 3 --new-only \\
      --pipeline nuclei-count --channel nuclei=DAPI""")
@click.option("--user", "omename", required=True, help="Owner (OMERO user name).")
@click.option("--cron", required=True, help='Five fields, e.g. "0 2 * * *".')
@click.option("--tz", "timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--plate", "plate_id", type=int, help="Target: one OMERO plate id.")
@click.option("--screen", "screen_id", type=int,
              help="Target: every plate of an OMERO screen (id).")
@click.option("--new-only", is_flag=True, help="Screen: only plates this schedule never ran.")
@click.option("--pipeline", required=True, help="Pipeline name (see `platequeue pipelines`).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Pipeline parameter; repeat for several.")
@click.option("--channel", "channels", multiple=True, metavar="ROLE=CHANNEL",
              help="Map a pipeline channel role to a channel name or index.")
@click.option("--name", default="", help="Defaults to '<pipeline> on <target>'.")
@click.option("--group", "group_id", type=int, help="Admins: only plates of this OMERO group.")
@click.option("--on-pipeline-change", is_flag=True,
              help="Also fire when the pipeline's version (hash) changes.")
@click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON.")
def create(omename: str, cron: str, timezone: str, plate_id: int | None,
           screen_id: int | None, new_only: bool, pipeline: str, params: tuple[str, ...],
           channels: tuple[str, ...], name: str, group_id: int | None,
           on_pipeline_change: bool, as_json: bool) -> None:
    """Create a schedule (validated now: cron, zone, pipeline, target, rights)."""
    if (plate_id is None) == (screen_id is None):
        raise click.UsageError("give exactly one of --plate and --screen")
    if new_only and screen_id is None:
        raise click.UsageError("--new-only applies to --screen")
    kind = "plate" if plate_id is not None else ("screen_new_since_last" if new_only
                                                 else "screen")
    target_id = plate_id if plate_id is not None else screen_id
    assert target_id is not None
    parsed, mapped = cli.parse_params(params), cli.parse_params(channels)

    @cli.friendly
    def go() -> None:
        from platequeue import schedules

        view = schedules.create(cli.platform_from_env(), omename=omename, name=name, cron=cron,
                                timezone=timezone, target_kind=kind,
                                target_id=target_id,
                                pipeline=pipeline, params=parsed, channels=mapped,
                                group_id=group_id, on_pipeline_version_change=on_pipeline_change,
                                actor=f"cli:{omename}")
        click.echo(json.dumps(view.to_json(), indent=2) if as_json else
                   f"schedule {view.id} created; next firing {view.next_fire_at}")

    go()


@schedule.command("list", epilog="Example: platequeue schedule list --user demo --json")
@click.option("--user", "omename", help="Only this user's (default: everyone's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(omename: str | None, as_json: bool) -> None:
    """Schedules with their next firing (UTC) and last run."""

    @cli.friendly
    def go() -> None:
        from platequeue import schedules

        found = schedules.list_schedules(cli.platform_from_env(), omename=omename)
        if as_json:
            click.echo(json.dumps([v.to_json() for v in found], indent=2))
            return
        for v in found:
            click.echo(f"{v.id:>4} {'on ' if v.enabled else 'off'} {v.owner:<12} "
                       f"{v.cron:<16} {v.timezone:<16} {v.target_kind} {v.target_id} "
                       f"{v.pipeline} next {v.next_fire_at[:16]}Z last run "
                       f"{v.last_run_id or '-'}")

    go()


def _owner_action(action: str) -> click.Command:
    @click.command(action, epilog=f"Example: platequeue schedule {action} 4 --user demo")
    @click.argument("schedule_id", type=int)
    @click.option("--user", "omename", required=True, help="The owner (or an admin).")
    def cmd(schedule_id: int, omename: str) -> None:

        @cli.friendly
        def go() -> None:
            from platequeue import schedules

            if action == "delete":
                schedules.delete(cli.platform_from_env(), schedule_id, omename=omename,
                                 actor=f"cli:{omename}")
            else:
                schedules.set_enabled(cli.platform_from_env(), schedule_id, action == "resume",
                                      omename=omename, actor=f"cli:{omename}")
            click.echo(f"schedule {schedule_id}: {action}d" if action != "pause"
                       else f"schedule {schedule_id}: paused")

        go()

    cmd.__doc__ = {"delete": "Delete a schedule (its runs stay).",
                   "pause": "Stop firing until resumed.",
                   "resume": "Fire again from the next due time (no catch-up)."}[action]
    cmd.help = cmd.__doc__
    return cmd


for _action in ("delete", "pause", "resume"):
    schedule.add_command(_owner_action(_action))


def register(group: click.Group) -> None:
    group.add_command(schedule)
