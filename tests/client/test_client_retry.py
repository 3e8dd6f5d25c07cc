"""The API client against a real HTTP server on loopback that is busy, then answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from platequeue.client import Client, ClientError, RetryPolicy
from platequeue.client_retry import parse_retry_after
from platequeue.testing import free_port, served

ME = {"user_id": 1, "omename": "demo", "omero_user_id": 2, "role": "user", "scope": "submit",
      "via": "token"}
FAST = RetryPolicy(retries=4, backoff=0.05, max_backoff=0.2, max_retry_after=5)


class Script:
    """A WSGI app answering each request with the next (status, headers) of a script,
    then 200; it records when each request arrived."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.seen: list[tuple[str, str, float]] = []

    def __call__(self, environ: dict[str, object], start: Callable[..., object]) -> object:
        req = Request(environ)
        self.seen.append((req.method, req.path, time.monotonic()))
        if self.answers:
            status, headers = self.answers.pop(0)
            res = Response(json.dumps({"error": f"busy ({status})"}), status=status,
                           headers=headers, mimetype="application/json")
        else:
            body = ME if req.path == "/api/me" else {"run_id": 7, "status": "queued"}
            res = Response(json.dumps(body), status=200 if req.method == "GET" else 201,
                           mimetype="application/json")
        return res(environ, start)


@contextmanager
def serving(app: Script) -> Iterator[Client]:
    with served(app) as url:
        yield Client(url, "pq_test", retry=FAST, timeout=5)


def test_502_and_503_are_retried_for_reads() -> None:
    app = Script((503, {}), (502, {}), (503, {}))
    with serving(app) as client:
        assert client.me()["omename"] == "demo"
    assert [m for m, _, _ in app.seen] == ["GET"] * 4


def test_retries_are_bounded() -> None:
    app = Script(*[(503, {})] * 10)
    with serving(app) as client, pytest.raises(ClientError) as info:
        client.me()
    assert info.value.status == 503
    assert len(app.seen) == FAST.retries + 1


def test_a_post_is_not_repeated_after_a_503() -> None:
    app = Script((503, {}))
    with serving(app) as client, pytest.raises(ClientError) as info:
        client.submit(1, "nuclei-count")
    assert info.value.status == 503 and len(app.seen) == 1


def test_429_waits_for_retry_after_seconds_then_succeeds() -> None:
    app = Script((429, {"Retry-After": "1"}))
    with serving(app) as client:
        runs = client.submit(1, "nuclei-count")
    assert runs[0]["run_id"] == 7
    (_, _, first), (method, _, second) = app.seen
    assert method == "POST"
    assert second - first >= 0.95  # it waited as told, not its own short backoff


def test_429_with_an_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=2)
    app = Script((429, {"Retry-After": format_datetime(when, usegmt=True)}))
    with serving(app) as client:
        assert client.me()["role"] == "user"
    assert app.seen[1][2] - app.seen[0][2] >= 0.5


def test_429_asking_for_too_long_is_raised_at_once() -> None:
    app = Script((429, {"Retry-After": "3600"}))
    started = time.monotonic()
    with serving(app) as client, pytest.raises(ClientError) as info:
        client.me()
    assert info.value.status == 429 and "busy" in info.value.message
    assert len(app.seen) == 1 and time.monotonic() - started < 5


def test_connection_refused_is_retried_until_the_server_is_up() -> None:
    port = free_port()
    app = Script()
    server = make_server("127.0.0.1", port, app, threaded=True)  # bound, not yet serving
    server.socket.close()  # refuse until the restart below
    holder: dict[str, object] = {}

    def start_later() -> None:
        time.sleep(0.3)
        srv = make_server("127.0.0.1", port, app, threaded=True)
        holder["srv"] = srv
        srv.serve_forever()

    thread = threading.Thread(target=start_later, daemon=True)
    thread.start()
    client = Client(f"http://127.0.0.1:{port}", "pq_test", timeout=5,
                    retry=RetryPolicy(retries=6, backoff=0.1, max_backoff=0.5))
    try:
        assert client.me()["omename"] == "demo"
    finally:
        while "srv" not in holder:
            time.sleep(0.05)
        holder["srv"].shutdown()  # type: ignore[attr-defined]
        thread.join(5)


def test_no_retries_when_turned_off() -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", "pq_test",
                    retry=RetryPolicy(retries=0))
    with pytest.raises(requests.ConnectionError):
        client.me()


@pytest.mark.parametrize(("value", "expected"), [
    ("5", 5.0), (" 0 ", 0.0), ("soon", None), ("", None), (None, None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected
