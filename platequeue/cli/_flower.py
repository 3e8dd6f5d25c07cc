"""Flower for operators: every option we launch it with, declared in one place.

Flower serves under ``/<FLOWER_URL_PREFIX>/`` behind the same host as the web app. Two locks:
nginx ``auth_request`` asks the web app (``GET /auth/flower``) and lets only operators and
admins through; Flower itself reads ``FLOWER_BASIC_AUTH`` (``user:password``) from the
environment it inherits. Flower runs read-only: revoking a task behind the run service's
back would leave its well queued in PostgreSQL (cancel runs with the API or CLI instead).

Flower is in the ``ops`` extra (``pip install 'platequeue[ops]'``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from platequeue.cli._procs import Proc, celery_argv
from platequeue.errors import NotInstalled
from platequeue.settings import Settings

INSTALL_HINT = "Flower is not installed; install the ops extra: pip install 'platequeue[ops]'"


@dataclass(frozen=True)
class FlowerOptions:
    """Flower's command-line options (``celery -A workers flower --<name>=<value>``)."""

    url_prefix: str
    port: int
    address: str = "127.0.0.1"
    persistent: bool = True
    db: str = "flower.db"
    read_only: bool = True
    purge_offline_workers: int = 3600
    xheaders: bool = True  # scheme and client address from nginx's X-Forwarded-* headers

    @classmethod
    def from_settings(cls, settings: Settings, *, address: str = "127.0.0.1",
                      port: int | None = None) -> FlowerOptions:
        return cls(url_prefix=settings.flower_url_prefix, port=port or settings.flower_port,
                   address=address, db=str(settings.home / "flower.db"))

    def argv(self) -> list[str]:
        return [f"--url_prefix={self.url_prefix}", f"--address={self.address}",
                f"--port={self.port}", f"--persistent={self.persistent}", f"--db={self.db}",
                f"--read_only={self.read_only}",
                f"--purge_offline_workers={self.purge_offline_workers}",
                f"--xheaders={self.xheaders}"]


def flower_installed() -> bool:
    return importlib.util.find_spec("flower") is not None


def flower_proc(settings: Settings, *, address: str = "127.0.0.1",
                port: int | None = None) -> Proc:
    """The Flower process; raises :class:`NotInstalled` when Flower is not installed."""
    if not flower_installed():
        raise NotInstalled(INSTALL_HINT)
    opts = FlowerOptions.from_settings(settings, address=address, port=port)
    settings.home.mkdir(parents=True, exist_ok=True)
    return Proc("flower", celery_argv("flower", *opts.argv()))
