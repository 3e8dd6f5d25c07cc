"""Flower for operators: the /auth/flower gate, the command line, real Flower, real nginx."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from platequeue.cli import _flower as flower_mod
from platequeue.settings import get_settings, load_settings
from platequeue.testing import free_port, served
from tests.conftest import ROOT
from tests.web.api_fixtures import WHO, Api, api  # noqa: F401  (fixture)

BASIC = ("ops", "s3cret-flower")


def _session_cookie(api: Api, role: str) -> tuple[str, str]:  # noqa: F811
    """A signed-in browser session for ``role``: (cookie name, value)."""
    from platequeue.accounts import ensure_user

    user = ensure_user(api.platform, WHO[role])
    client = api.app.test_client()
    with client.session_transaction() as sess:
        sess["user"] = {"id": user.id, "omename": user.omename,
                        "omero_user_id": user.omero_user_id,
                        "role": "operator" if role == "operator" else user.role}
    name = api.app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name)
    assert cookie is not None
    return name, cookie.value


def test_gate_lets_only_operators_and_admins_in(api: Api) -> None:  # noqa: F811
    client = api.app.test_client()
    r = client.get("/auth/flower")
    assert r.status_code == 401 and r.get_json()["error"]
    assert client.get("/auth/flower", headers={"Authorization": "Bearer pq_nope"}
                      ).status_code == 401
    r = client.get("/auth/flower", headers=api.headers("user"))
    assert r.status_code == 403 and "operators" in r.get_json()["error"]
    for role in ("operator", "admin"):
        r = client.get("/auth/flower", headers=api.headers(role))
        assert r.status_code == 204 and r.get_data() == b"", role
        assert r.headers["Cache-Control"] == "no-store"
    # a read-only token is enough to look
    assert client.get("/auth/flower", headers={
        "Authorization": f"Bearer {api.token('operator', scope='read')}"}).status_code == 204
    # browser sessions: Flower's own Basic credentials in Authorization are ignored here
    for role, code in (("user", 403), ("operator", 204), ("admin", 204)):
        name, value = _session_cookie(api, role)
        browser = api.app.test_client()
        browser.set_cookie(name, value)
        basic = base64.b64encode(":".join(BASIC).encode()).decode()
        r = browser.get("/auth/flower", headers={"Authorization": f"Basic {basic}"})
        assert r.status_code == code, (role, r.get_data())


def test_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = load_settings({"APP_ENV": "test", "PLATEQUEUE_HOME": str(tmp_path),
                              "FLOWER_URL_PREFIX": "/ops/flower/", "FLOWER_PORT": "5601"})
    monkeypatch.setattr(flower_mod, "flower_installed", lambda: True)
    argv = flower_mod.flower_proc(settings).argv
    assert argv[:6] == [sys.executable, "-m", "celery", "-A", "workers", "flower"]
    opts = dict(a.removeprefix("--").split("=", 1) for a in argv[6:])
    assert opts["url_prefix"] == "ops/flower" and opts["port"] == "5601"
    assert opts["address"] == "127.0.0.1" and opts["read_only"] == "True"
    assert opts["db"] == str(tmp_path / "flower.db") and opts["persistent"] == "True"
    assert not any("basic" in a for a in argv)  # Flower reads FLOWER_BASIC_AUTH itself
    argv = flower_mod.flower_proc(settings, address="0.0.0.0", port=7000).argv
    assert "--address=0.0.0.0" in argv and "--port=7000" in argv

    env = {"APP_ENV": "test", "PLATEQUEUE_HOME": str(tmp_path), "FLOWER_PORT": "5602"}
    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(_cli(), ["flower", "--print-command"], env=env)
        assert res.exit_code == 0, res.output
        assert "flower --url_prefix=flower" in res.output and "--port=5602" in res.output
        monkeypatch.setattr(flower_mod, "flower_installed", lambda: False)
        res = CliRunner().invoke(_cli(), ["flower"], env=env)
        assert res.exit_code == 3 and "pip install 'platequeue[ops]'" in res.output
        assert "Traceback" not in res.output
    finally:
        get_settings.cache_clear()


def _cli():  # type: ignore[no-untyped-def]
    from platequeue.cli import main

    return main



def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout}s")


@pytest.fixture
def flower_server(api: Api) -> Iterator[str]:  # noqa: F811
    """Real Flower from ``platequeue flower`` (skipped when Flower is not installed)."""
    if not flower_mod.flower_installed():
        pytest.skip("Flower is not installed (the ops extra)")
    port = free_port()
    env = {**api.stack.env, "FLOWER_BASIC_AUTH": ":".join(BASIC)}
    log = open(api.stack.home / "flower.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "platequeue.cli", "flower", "--port",
                             str(port)], env=env, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        _wait_http(f"http://127.0.0.1:{port}/flower/healthcheck", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.mark.slow
def test_real_flower_under_the_prefix_with_basic_auth(flower_server: str) -> None:
    r = requests.get(f"{flower_server}/flower/healthcheck", timeout=10)
    assert r.status_code == 200 and r.text == "OK"
    assert requests.get(f"{flower_server}/flower/", timeout=10).status_code == 401
    assert requests.get(f"{flower_server}/flower/", auth=("ops", "wrong"),
                        timeout=10).status_code == 401
    r = requests.get(f"{flower_server}/flower/workers", auth=BASIC, timeout=10)
    assert r.status_code == 200 and "/flower/static/" in r.text
    # read-only: no task control through Flower (the run service owns cancellation)
    r = requests.post(f"{flower_server}/flower/api/task/revoke/abc", auth=BASIC, timeout=10)
    assert r.status_code == 403


@pytest.mark.slow
def test_nginx_gate_in_front_of_flower(api: Api, flower_server: str,  # noqa: F811
                                       tmp_path: Path) -> None:
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin")
    if nginx is None:
        pytest.skip("nginx not installed")
    with served(api.app) as web_url:  # the app on a real server
        port = free_port()
        site = (ROOT / "templates" / "nginx" / "platequeue.conf").read_text()
        site = site.replace("server web:8080;", f"server 127.0.0.1:{web_url.rsplit(':', 1)[1]};")
        site = site.replace("server flower:5555;",
                            f"server 127.0.0.1:{flower_server.rsplit(':', 1)[1]};")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{port};").replace(
            "listen [::]:80;", "").replace("/var/log/nginx/access.log", f"{tmp_path}/access.log")
        (tmp_path / "site.conf").write_text(site)
        (tmp_path / "nginx.conf").write_text(
            f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\ndaemon off;\n"
            f"events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n"
            f"  proxy_temp_path {tmp_path};\n  include {tmp_path}/site.conf;\n}}\n")
        proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                                stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_http(f"{base}/nginx-health", proc)
            r = requests.get(f"{base}/flower/", allow_redirects=False, timeout=10)
            assert r.status_code == 302 and r.headers["Location"].endswith("/login?next=/flower/")
            for role, code in (("user", 403), ("operator", 401), ("admin", 200)):
                name, value = _session_cookie(api, role)
                # operator: through the gate, then stopped by Flower's own lock (no Basic)
                auth = BASIC if role == "admin" else None
                r = requests.get(f"{base}/flower/workers", cookies={name: value}, auth=auth,
                                 allow_redirects=False, timeout=10)
                assert r.status_code == code, (role, r.status_code, r.text[:200])
            assert requests.get(f"{base}/flower/healthcheck", timeout=10).status_code == 403
            # an OMERO session key in a link (OMERO.web's handover) never reaches the log
            requests.get(f"{base}/submit?plate=7&bsession=0f1e2d3c-secret-key&x=1",
                         allow_redirects=False, timeout=10)
            logged = ""  # nginx writes the line once the response has gone out
            for _ in range(100):
                logged = (tmp_path / "access.log").read_text()
                if "/submit?" in logged:
                    break
                time.sleep(0.05)
            assert "GET /submit?plate=7&bsession=***&x=1 HTTP/1.1" in logged, logged
            assert "secret-key" not in logged and "GET /flower/workers" in logged
        finally:
            proc.terminate()
            proc.wait(20)
