"""When the API client tries a request again, and how long it waits first.

* A connection that could not be opened (refused, DNS, connect timeout): always retried,
  since the server never saw the request.
* ``502``/``503``/``504`` (a proxy without a healthy backend, a restart, a database
  that is briefly away) and a connection lost after the request was sent: retried for
  ``GET`` only, because a ``POST`` may already have done its work.
* ``429`` (a quota): retried for any method after the ``Retry-After`` the server sends,
  since the request was refused, not processed. A ``Retry-After`` longer than
  ``max_retry_after`` is not waited for: the error is raised at once.
* Otherwise the wait doubles from ``backoff`` up to ``max_backoff``, with up to 10 %
  jitter so that many clients do not return in step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import NewConnectionError

__all__ = ["RetryPolicy", "parse_retry_after"]

RETRY_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try again (``retries``) and how long to wait (seconds)."""

    retries: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 120.0

    def backoff_delay(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (1, 2, ...): exponential, jittered."""
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return base * (1 + 0.1 * random.random())

    def status_delay(self, method: str, status: int, retry_after: str | None,
                     attempt: int) -> float | None:
        """Seconds to wait before retrying after ``status``, or None to give up."""
        if attempt > self.retries:
            return None
        if status == 429 or (status in RETRY_STATUSES and method.upper() in IDEMPOTENT):
            asked = parse_retry_after(retry_after)
            if asked is None:
                return self.backoff_delay(attempt)
            return asked if asked <= self.max_retry_after else None
        return None

    def error_delay(self, method: str, exc: requests.RequestException,
                    attempt: int) -> float | None:
        """Seconds to wait before retrying after a connection error, or None to give up."""
        if attempt > self.retries:
            return None
        never_sent = isinstance(exc, requests.ConnectTimeout) or _refused(exc)
        lost = isinstance(exc, requests.ConnectionError | requests.Timeout)
        if never_sent or (lost and method.upper() in IDEMPOTENT):
            return self.backoff_delay(attempt)
        return None


def _refused(exc: BaseException) -> bool:
    """Whether the connection was never opened (the request was not sent)."""
    seen: set[int] = set()
    cur: object = exc
    while isinstance(cur, BaseException) and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, NewConnectionError):
            return True
        reason = getattr(cur, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else (cur.args[0] if cur.args else None)
        cur = nxt if isinstance(nxt, BaseException) else cur.__cause__
    return False


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None if absent/bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
