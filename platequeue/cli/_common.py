"""What every ``platequeue`` command shares: the group, the platform, error reporting."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from platequeue.errors import PlatequeueError
from platequeue.settings import SettingsError

F = TypeVar("F", bound=Callable[..., Any])


def platform_from_env() -> Any:
    from platequeue.logs import configure_logging
    from platequeue.platform import get_platform

    platform = get_platform()
    configure_logging(platform.settings)
    return platform


# Exit codes of every command (README, "Command line"):
EXIT_OK = 0  # done (submit --wait: every run succeeded)
EXIT_FAILED = 1  # refused (not found, not allowed, invalid) or a run did not succeed
EXIT_USAGE = 2  # bad command line or bad configuration (a setting named in the message)
EXIT_MISSING = 3  # a component this command needs is not installed (an extra)
EXIT_UNAVAILABLE = 4  # a service (broker, database) does not answer


def one_line(exc: BaseException) -> tuple[str, int] | None:
    """The message and exit code for an error a command may end with, or None for a bug."""
    from platequeue.errors import NotInstalled, Unavailable

    if isinstance(exc, SettingsError):
        return f"configuration error: {exc}", EXIT_USAGE
    if isinstance(exc, NotInstalled):
        return f"not installed: {exc}", EXIT_MISSING
    if isinstance(exc, Unavailable):
        return f"unavailable: {exc}", EXIT_UNAVAILABLE
    if isinstance(exc, PlatequeueError):
        return f"error: {exc}", EXIT_FAILED
    if isinstance(exc, ModuleNotFoundError):
        return (f"not installed: {exc.name} (this command needs platequeue's server or worker "
                f"extra: pip install 'platequeue[server,worker]')"), EXIT_MISSING
    kind = f"{type(exc).__module__}.{type(exc).__name__}"
    if kind in {"sqlalchemy.exc.OperationalError", "redis.exceptions.ConnectionError",
                "redis.exceptions.TimeoutError"}:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"unavailable: {first}", EXIT_UNAVAILABLE
    return None


def friendly(fn: F) -> F:
    """Turn domain and configuration errors into one clear line and a non-zero exit."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            known = one_line(exc)
            if known is None:
                raise
            click.echo(known[0], err=True)
            sys.exit(known[1])

    return wrapper  # type: ignore[return-value]


class FriendlyGroup(click.Group):
    """A group whose every command (nested groups included) ends a known error with one
    line on stderr and its documented exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            known = one_line(exc)
            if known is None:
                raise
            click.echo(known[0], err=True)
            ctx.exit(known[1])


def parse_params(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not of the form name=value",
                                     param_hint="--param")
        out[key.strip()] = value.strip()
    return out


def parse_channels(items: tuple[str, ...]) -> dict[str, str]:
    """``--channel ROLE=NAME`` as the pipeline parameters ``channels.<role>``."""
    out: dict[str, str] = {}
    for item in items:
        role, sep, name = item.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise click.BadParameter(f"{item!r} is not of the form ROLE=CHANNEL",
                                     param_hint="--channel")
        out[f"channels.{role.strip()}"] = name.strip()
    return out


@click.group(cls=FriendlyGroup, epilog="""Examples:

\b
  platequeue up --demo                    # everything on this machine, then a demo run
  platequeue plates --user demo
  platequeue submit --user demo --plate 1 --plate 2 --pipeline nuclei-count --wait
  platequeue results 7 --format parquet -o run-7.parquet

Exit codes: 0 done, 1 refused or a run did not succeed, 2 bad command line or
configuration, 3 a needed extra is not installed, 4 broker or database unavailable.""")
@click.version_option(package_name="platequeue", prog_name="platequeue",
                      message="%(prog)s %(version)s")
def main() -> None:
    """Queue analyses of OMERO high-content-screening plates on GPU/CPU workers."""
