"""Deployment templates: env file, gunicorn, nginx, systemd, redis and postgres snippets."""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

from ._support import ROOT, TEMPLATE_ENV, TEMPLATES, parse_env_file

# Every variable the app's settings and the deployment read (the brief's list).
APP_VARIABLES = (
    "DATABASE_URL", "REDIS_URL", "OMERO_HOST", "OMERO_PORT", "OMERO_DB_URL", "OMERO_DATA_DIR",
    "APP_ENV", "DEBUG", "SECRET_KEY", "APP_PORT", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET",
    "OAUTH_AUTH_URL", "OAUTH_TOKEN_URL", "OAUTH_REDIRECT_URI", "OAUTH_LOGOUT_URL",
    "OAUTH_DISCOVERY_URL", "FLOWER_BASIC_AUTH", "CUPY_GPU_MEMORY_LIMIT",
    "WORKER_MAX_TASKS_PER_CHILD", "TASK_TIME_LIMIT", "LOG_LEVEL", "POSTGRES_USER",
    "POSTGRES_PASSWORD", "POSTGRES_DB", "BACKUP_RETENTION_DAYS",
)
SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD", "OAUTH_CLIENT_SECRET")
SYSTEMD = TEMPLATES / "systemd"
NGINX_CONF = TEMPLATES / "nginx" / "platequeue.conf"


# --- template.env -----------------------------------------------------------------
def test_template_env_declares_every_variable() -> None:
    env = parse_env_file(TEMPLATE_ENV)
    missing = [v for v in APP_VARIABLES if v not in env]
    assert not missing, missing


def test_template_env_has_comments_and_only_placeholders() -> None:
    text = TEMPLATE_ENV.read_text()
    env = parse_env_file(TEMPLATE_ENV)
    assert sum(line.startswith("#") for line in text.splitlines()) >= 20
    for name in SECRETS:
        assert env[name] == "CHANGE_ME", f"{name} must be a placeholder"
    # Passwords inside URLs are placeholders too; basic auth likewise.
    for name, value in env.items():
        for pw in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
            assert pw == "CHANGE_ME", name
    assert env["FLOWER_BASIC_AUTH"].endswith(":CHANGE_ME")
    # systemd's EnvironmentFile= and compose both need plain KEY=value lines.
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.match(r"^[A-Z_][A-Z0-9_]*=\S*$", line), f"not KEY=value: {line!r}"


# --- gunicorn ---------------------------------------------------------------------
def test_gunicorn_config_imports_and_uses_known_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    gunicorn_config = pytest.importorskip("gunicorn.config")
    monkeypatch.setenv("APP_PORT", "9123")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    ns = runpy.run_path(str(TEMPLATES / "gunicorn.conf.py"))
    known = {s.name for s in gunicorn_config.KNOWN_SETTINGS}
    names = {k for k in ns if not k.startswith("_") and k not in {"os", "multiprocessing"}}
    unknown = names - known
    assert not unknown, f"not gunicorn settings (typos?): {unknown}"
    cfg = gunicorn_config.Config()
    for key in names:  # gunicorn's own validators accept every value
        cfg.set(key, ns[key])
    assert cfg.bind == ["0.0.0.0:9123"]
    assert cfg.loglevel == "warning"
    assert cfg.workers >= 1 and cfg.preload_app is False


# --- nginx ------------------------------------------------------------------------
def _nginx_blocks(text: str) -> dict[str, str]:
    """location spec -> body (locations here have no nested blocks)."""
    pattern = re.compile(r"location\s+([^{]+)\{([^}]*)\}")
    return {m.group(1).strip(): m.group(2) for m in pattern.finditer(text)}


def test_nginx_locations() -> None:
    text = NGINX_CONF.read_text()
    locs = _nginx_blocks(text)
    assert "alias /srv/platequeue/static/;" in locs["/static/"]
    assert re.search(r"proxy_pass http://platequeue_flower;", locs["/flower/"])
    assert "X-Forwarded-Proto" in locs["/flower/"]
    assert re.search(r"proxy_pass http://platequeue_web;", locs["/"])
    assert "X-Forwarded-Proto" in locs["/"] and "X-Forwarded-For" in locs["/"]
    assert "deny all;" in locs["~ ^/flower/(metrics|healthcheck)$"]
    # Flower's first lock: every /flower/ request is authorised by the app's operator gate,
    # through a body-less GET subrequest (no CSRF trip on Flower's POSTs).
    assert re.search(r"^\s*auth_request /_auth/flower;", locs["/flower/"], re.M)
    gate = locs["= /_auth/flower"]
    assert "internal;" in gate and "proxy_pass http://platequeue_web/auth/flower;" in gate
    assert "proxy_method GET;" in gate and "proxy_pass_request_body off;" in gate
    assert "error_page 401 = @flower_signin;" in locs["/flower/"]
    assert "return 302 /login" in locs["@flower_signin"]
    assert "server web:8080;" in text and "server flower:5555;" in text
    for header in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
                   "Content-Security-Policy"):
        assert re.search(rf"^\s*add_header {header} .* always;", text, re.M), header
    # add_header inside a location would silently drop the server-level headers there.
    assert not any("add_header" in body for body in locs.values())


def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    nginx = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if not nginx:
        pytest.skip("nginx not installed")
    # The README's recipe for systemd hosts (loopback upstreams) also makes the
    # upstream names resolvable here.
    site = NGINX_CONF.read_text().replace("server web:", "server 127.0.0.1:").replace(
        "server flower:", "server 127.0.0.1:"
    )
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n"
        f"  proxy_temp_path {tmp_path};\n  include {tmp_path}/site.conf;\n}}\n"
    )
    proc = subprocess.run(
        [nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr


# --- systemd ----------------------------------------------------------------------
UNITS = {
    "platequeue-web.service", "platequeue-worker-cpu.service", "platequeue-worker-gpu@.service",
    "platequeue-beat.service", "platequeue-flower.service", "platequeue-backup.service",
    "platequeue-backup.timer", "platequeue.target",
}


class Unit(dict[str, dict[str, list[str]]]):
    """A unit file: section -> key -> every value (keys like Environment= repeat)."""

    def get1(self, section: str, key: str) -> str:
        values = self.get(section, {}).get(key, [])
        return values[-1] if values else ""


def _unit(path: Path) -> Unit:
    unit = Unit()
    section = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            unit.setdefault(section, {})
            continue
        assert section is not None, f"{path.name}: key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not key=value: {line}"
        unit[section].setdefault(key.strip(), []).append(value.strip())
    return unit


def test_systemd_units_structure() -> None:
    assert {p.name for p in SYSTEMD.iterdir()} == UNITS
    for name in UNITS:
        unit = _unit(SYSTEMD / name)
        assert unit.get1("Unit", "Description"), name
        if name.endswith(".service"):
            assert len(unit["Service"]["ExecStart"]) == 1, name
            assert unit.get1("Service", "ExecStart").startswith("/"), name
            assert unit.get1("Service", "EnvironmentFile") == "/etc/platequeue/platequeue.env"
            assert unit.get1("Service", "User") == "platequeue", name
            if name != "platequeue-backup.service":
                assert unit.get1("Unit", "PartOf") == "platequeue.target", name
                assert unit.get1("Install", "WantedBy") == "platequeue.target", name
    timer = _unit(SYSTEMD / "platequeue-backup.timer")
    assert timer.get1("Timer", "OnCalendar") and timer.get1("Timer", "Persistent") == "true"
    assert timer.get1("Timer", "Unit") == "platequeue-backup.service"
    assert timer.get1("Install", "WantedBy") == "timers.target"


def test_systemd_worker_commands() -> None:
    gpu = _unit(SYSTEMD / "platequeue-worker-gpu@.service")
    env = " ".join(gpu["Service"]["Environment"]).split()
    assert "CUDA_VISIBLE_DEVICES=%i" in env and "CUDA_DEVICE_ORDER=PCI_BUS_ID" in env
    cmd = gpu.get1("Service", "ExecStart").split()
    for flags in (["-P", "prefork"], ["-c", "1"], ["-Q", "gpu"], ["-n", "gpu%i@%%h"]):
        i = cmd.index(flags[0])
        assert cmd[i : i + 2] == flags, flags
    assert any(a.startswith("--max-tasks-per-child=") for a in cmd)
    cpu = _unit(SYSTEMD / "platequeue-worker-cpu.service").get1("Service", "ExecStart").split()
    assert cpu[cpu.index("-Q") + 1] == "cpu,maint"
    beat = _unit(SYSTEMD / "platequeue-beat.service").get1("Service", "ExecStart")
    assert " beat " in beat
    flower = _unit(SYSTEMD / "platequeue-flower.service").get1("Service", "ExecStart")
    assert "--url_prefix=flower" in flower and "--address=127.0.0.1" in flower
    # celery's %h must reach celery: a bare %h would be systemd's home-directory specifier.
    for path in SYSTEMD.glob("*.service"):
        assert not re.search(r"(?<!%)%h", path.read_text()), path.name


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze not available")
    # Stand-in executables where the units expect the installed venv and checkout.
    fake = tmp_path / "opt" / "platequeue"
    for exe in ("venv/bin/gunicorn", "venv/bin/celery", "app/templates/backup.sh"):
        path = fake / exe
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for name in UNITS:
        text = (SYSTEMD / name).read_text().replace("/opt/platequeue/", f"{fake}/")
        target = "platequeue-worker-gpu@0.service" if name.endswith("@.service") else name
        (units / target).write_text(text)
    proc = subprocess.run(
        [analyze, "verify", "--man=no", *sorted(str(p) for p in units.iterdir())],
        capture_output=True, text=True, timeout=60,
    )
    # Unknown keys and bad values are only warnings: treat any output as a failure.
    problems = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    assert proc.returncode == 0 and not problems, "\n".join(problems)


# --- redis / postgres snippets ------------------------------------------------------
def test_redis_conf_snippet() -> None:
    conf: dict[str, str] = {}
    for line in (TEMPLATES / "redis.conf").read_text().splitlines():
        parts = line.split(None, 1)
        if parts and not parts[0].startswith("#"):
            conf.setdefault(parts[0], parts[1].strip() if len(parts) > 1 else "")
    assert conf["maxmemory-policy"] == "noeviction"
    assert conf["appendonly"] == "yes"
    assert "requirepass" not in conf, "no secrets in templates"


def test_postgresql_conf_settings_exist(pg_dsn: str) -> None:
    names = []
    for line in (TEMPLATES / "postgresql.conf").read_text().splitlines():
        m = re.match(r"^\s*([a-z_]+)\s*=", line)
        if m:
            names.append(m.group(1).lower())
    assert "shared_buffers" in names
    out = subprocess.run(
        ["psql", "-X", "-qAt", "-d", pg_dsn, "-c", "SELECT name FROM pg_settings"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.lower().split()
    unknown = sorted(set(names) - set(out))
    assert not unknown, f"not PostgreSQL settings: {unknown}"


# --- shell scripts ----------------------------------------------------------------
SCRIPTS = [TEMPLATES / "backup.sh", TEMPLATES / "restore.sh", ROOT / "update.sh",
           *sorted((ROOT / "scripts").glob("*.sh"))]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_strict_and_executable(script: Path) -> None:
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert script.stat().st_mode & 0o111, f"{script.name} is not executable"
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_scripts_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        pytest.skip("shellcheck not installed (apt-get install -y shellcheck)")
    sourced = [TEMPLATES / "pg-url.sh"]  # shared by backup.sh and restore.sh
    proc = subprocess.run([shellcheck, *map(str, [*SCRIPTS, *sourced])], capture_output=True,
                          text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
