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


def friendly(fn: F) -> F:
    """Turn domain and configuration errors into one clear line and a non-zero exit."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SettingsError as exc:
            click.echo(f"configuration error: {exc}", err=True)
            sys.exit(2)
        except PlatequeueError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def parse_params(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not of the form name=value",
                                     param_hint="--param")
        out[key.strip()] = value.strip()
    return out


@click.group()
def main() -> None:
    """Queue analyses of OMERO high-content-screening plates on GPU/CPU workers."""
