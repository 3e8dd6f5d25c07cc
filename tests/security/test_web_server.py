"""Attacks on ``platequeue web`` itself (real gunicorn, as the command starts it): slow
clients holding connections open, and session keys written to the access log."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from platequeue.testing import free_port
from tests.conftest import ROOT
from tests.web.conftest import SmallStack

SLOW_CLIENTS = 6  # more than gunicorn's worker count: sync workers would all be stuck


@dataclass
class Served:
    url: str
    port: int
    log: Path


@pytest.fixture
def platequeue_web(small_stack: SmallStack, tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "platequeue.cli", "web", "--port",
                                 str(port), "--workers", "2"], env=small_stack.env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/health", timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"platequeue web did not start:\n{log.read_text()}")
            time.sleep(0.3)
        yield Served(url, port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_slowloris_client_blocks_web(platequeue_web: Served) -> None:
    slow = []
    try:
        for _ in range(SLOW_CLIENTS):  # headers started, never finished
            sock = socket.create_connection(("127.0.0.1", platequeue_web.port), timeout=5)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow.append(sock)
        time.sleep(1.0)
        for sock in slow:
            sock.sendall(b"a")  # still trickling
        started = time.monotonic()
        res = requests.get(f"{platequeue_web.url}/health", timeout=20)
        assert res.status_code == 200 and time.monotonic() - started < 20
    finally:
        for sock in slow:
            sock.close()


def test_bsession_in_gunicorn_access_log(platequeue_web: Served) -> None:
    key = str(uuid.uuid4())
    res = requests.get(f"{platequeue_web.url}/plates?q=x&bsession={key}",
                       headers={"X-OMERO-Session-Key": key, "Referer": f"/a?bsession={key}"},
                       allow_redirects=False, timeout=30)
    assert res.status_code == 401  # an unknown session key, refused
    deadline = time.monotonic() + 10
    while "/plates?q=x" not in platequeue_web.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    text = platequeue_web.log.read_text()
    assert "/plates?q=x&bsession=[redacted]" in text, text[-2000:]
    assert key not in text
