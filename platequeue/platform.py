"""The platform context: settings, engines, the OMERO catalog and the task sender, injected.

Services (web, workers, beat, CLI) build one :class:`Platform` per process and hand it to the
domain functions in :mod:`platequeue.runs`; tests build their own with other settings.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from platequeue.settings import Settings, get_settings
from platequeue.store import engine_for

if TYPE_CHECKING:
    import numpy as np
    import redis
    from celery import Celery
    from redis import Redis as RedisClient

    from platequeue.omero import OmeroCatalog, PixelsInfo, RepositoryReader

log = logging.getLogger(__name__)

Sender = Callable[[str, list[Any], str, str], None]
"""send(task name, JSON args, queue, task id)."""


@dataclass
class Platform:
    settings: Settings
    _celery: Celery | None = field(default=None, repr=False)

    @property
    def audit(self) -> Engine:
        return engine_for(self.settings.database_url)

    @property
    def omero(self) -> Engine:
        return engine_for(self.settings.omero_db_url)

    @cached_property
    def catalog(self) -> OmeroCatalog:
        from platequeue.omero import OmeroCatalog

        return OmeroCatalog(self.omero)

    @property
    def celery(self) -> Celery:
        if self._celery is None:
            from platequeue.queue import create_celery

            self._celery = create_celery(self.settings)
        return self._celery

    @cached_property
    def redis(self) -> redis.Redis:
        from platequeue.queue import redis_client

        return redis_client(self.settings)

    @cached_property
    def omero_web_redis(self) -> RedisClient:
        """Where OMERO.web keeps its sessions: ``OMERO_WEB_REDIS_URL``, else the broker."""
        if self.settings.omero_web_redis_url is None:
            return self.redis
        import redis as redis_lib

        return redis_lib.Redis.from_url(self.settings.omero_web_redis_url, socket_timeout=10)

    @cached_property
    def reader(self) -> RepositoryReader:
        """Pixels from whichever source OMERO holds them in (OME-Zarr, pyramid, ROMIO,
        original file), in omero-ms-image-region's order, read only under the allowed roots
        (the data dir, ``OMERO_MANAGED_DIR`` and ``OMERO_INPLACE_ROOTS``)."""
        from platequeue.omero import (
            AllowedRoots,
            RepositoryReader,
            bioformats_config,
            repository_roots,
        )

        s = self.settings
        roots = AllowedRoots(s.omero_data_dir, s.omero_managed_dir,
                             extra=s.omero_inplace_roots)
        return RepositoryReader(s.omero_data_dir, repository_roots(self.omero), roots=roots,
                                managed_dir=s.omero_managed_dir,
                                bioformats=bioformats_config(s))

    def read_field(self, pixels: PixelsInfo, *, native: bool = False) -> np.ndarray:
        """One field (C, Z, Y, X) of an image, straight from the binary repository.

        For ROMIO ``Pixels/<id>`` files, ``native=False`` gives the zero-copy, big-endian
        memory-mapped view (for the GPU, which swaps bytes on the device) and
        ``native=True`` one read into a native-endian array (the CPU path: far cheaper
        than converting the view afterwards). OME-Zarr, pyramid and original files
        (OME-TIFF) always come back native-endian.
        """
        return self.reader.open_field(pixels, native=native)

    def send(self, name: str, args: list[Any], queue: str, task_id: str | None = None) -> str:
        """Publish one JSON task message; returns its task id."""
        task_id = task_id or uuid.uuid4().hex
        self.celery.send_task(name, args=args, queue=queue, task_id=task_id,
                              serializer="json")
        return task_id


_platform: Platform | None = None


def get_platform() -> Platform:
    """The process-wide platform built from the environment."""
    global _platform
    if _platform is None:
        _platform = Platform(get_settings())
    return _platform


def set_platform(platform: Platform | None) -> None:
    """Install a platform (tests, the web app factory, the worker entry)."""
    global _platform
    _platform = platform
