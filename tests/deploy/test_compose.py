"""compose.yaml: valid per the Compose Specification, and the invariants we rely on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ._support import (
    ROOT,
    TEMPLATE_ENV,
    command,
    environment,
    is_celery,
    load_compose,
    option,
    parse_env_file,
    strings,
    variables,
    volume_mounts,
)

SCHEMA = Path(__file__).with_name("compose-spec.json")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|BASIC_AUTH|PRIVATE", re.I)
ONLY_VAR = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?:[:?-][^}]*)?\}$")
URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _workers(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services.items() if is_celery(command(s), "worker")}


def _gpu_workers(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        n: s
        for n, s in _workers(services).items()
        if "gpu" in (option(command(s), "-Q", "--queues") or "").split(",")
    }


def _gpu_devices(service: dict[str, Any]) -> list[dict[str, Any]]:
    devices = (
        service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    )
    return [d for d in devices if d.get("driver") == "nvidia" or "gpu" in d.get("capabilities", [])]


def test_validates_against_compose_spec_schema(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    # The schema declares draft-07 (spelled https://json-schema.org/draft-07/schema).
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_expected_services(services: dict[str, dict[str, Any]]) -> None:
    expected = {"redis", "postgres", "migrate", "web", "worker-gpu0", "worker-gpu1",
                "worker-cpu", "beat", "flower", "nginx"}
    assert expected <= set(services)


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        hc = svc.get("healthcheck")
        assert hc, f"{name}: no healthcheck"
        assert not hc.get("disable"), f"{name}: healthcheck disabled"
        test = hc.get("test")
        assert test and test not in (["NONE"], "NONE"), f"{name}: healthcheck has no test"


def _redis_effective_config(svc: dict[str, Any]) -> dict[str, str]:
    cmd = command(svc)
    assert cmd and cmd[0] == "redis-server", cmd
    conf: dict[str, str] = {}
    args = cmd[1:]
    if args and not args[0].startswith("--"):
        conf_path = args.pop(0)
        mounts = {tgt: src for src, tgt, _ in volume_mounts(svc)}
        assert conf_path in mounts, f"redis config {conf_path} is not mounted"
        host_file = (ROOT / mounts[conf_path]).resolve()
        for line in host_file.read_text().splitlines():
            parts = line.split(None, 1)
            if parts and not parts[0].startswith("#") and len(parts) == 2:
                conf[parts[0].lower()] = parts[1].strip()
    for i, arg in enumerate(args):  # command-line overrides win
        if arg.startswith("--") and i + 1 < len(args):
            conf[arg[2:].lower()] = args[i + 1]
    return conf


def test_redis_noeviction_and_aof(services: dict[str, dict[str, Any]]) -> None:
    redis = services["redis"]
    conf = _redis_effective_config(redis)
    assert conf.get("maxmemory-policy") == "noeviction"
    assert conf.get("appendonly") == "yes"
    assert any(tgt == "/data" for _, tgt, _ in volume_mounts(redis)), "redis data not on a volume"


def test_postgres_volume_config_and_pg_isready(services: dict[str, dict[str, Any]]) -> None:
    pg = services["postgres"]
    mounts = {tgt: (src, ro) for src, tgt, ro in volume_mounts(pg)}
    assert "/var/lib/postgresql/data" in mounts
    conf = option(command(pg), "-c")
    assert conf and conf.startswith("config_file=")
    src, ro = mounts[conf.split("=", 1)[1]]
    assert ro and (ROOT / src).is_file()
    assert "pg_isready" in " ".join(strings(pg["healthcheck"]["test"]))


def test_exactly_one_beat(services: dict[str, dict[str, Any]]) -> None:
    beats = [n for n, s in services.items() if is_celery(command(s), "beat")]
    assert beats == ["beat"]
    deploy = services["beat"].get("deploy", {})
    assert deploy.get("mode", "replicated") == "replicated"
    assert int(deploy.get("replicas", 1)) == 1
    # An embedded beat (worker -B/--beat) would be a second scheduler.
    for name, svc in _workers(services).items():
        cmd = command(svc)
        assert "-B" not in cmd and "--beat" not in cmd, f"{name} embeds a beat"
    for name, svc in services.items():
        replicas = svc.get("deploy", {}).get("replicas", 1)
        assert int(replicas) <= 1 or not is_celery(command(svc), "beat"), name


def test_gpu_workers_one_distinct_gpu_each(services: dict[str, dict[str, Any]]) -> None:
    gpu = _gpu_workers(services)
    assert len(gpu) >= 2, sorted(gpu)
    seen: set[str] = set()
    for name, svc in gpu.items():
        cmd = command(svc)
        devices = _gpu_devices(svc)
        assert len(devices) == 1, f"{name}: {devices}"
        dev = devices[0]
        assert dev["driver"] == "nvidia" and "gpu" in dev["capabilities"]
        assert "count" not in dev, f"{name}: reserve by device_ids, not count"
        ids = [str(i) for i in dev.get("device_ids", [])]
        assert len(ids) == 1, f"{name}: must reserve exactly one GPU, got {ids}"
        assert ids[0] not in seen, f"{name}: GPU {ids[0]} reserved twice"
        seen.add(ids[0])
        # The container sees only its reserved GPU, as CUDA ordinal 0.
        assert environment(svc).get("CUDA_VISIBLE_DEVICES") == "0", name
        assert option(cmd, "-c", "--concurrency") == "1", name
        assert option(cmd, "-P", "--pool") == "prefork", name
        assert option(cmd, "-n", "--hostname") == f"gpu{ids[0]}@%h", name
        assert option(cmd, "--max-tasks-per-child"), name
    # Nobody else grabs a GPU.
    for name, svc in services.items():
        if name not in gpu:
            assert not _gpu_devices(svc), f"{name} reserves a GPU"


def test_worker_healthcheck_pings_its_own_node(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in _workers(services).items():
        node = option(command(svc), "-n", "--hostname")
        assert node and node.endswith("@%h"), name
        prefix = environment(svc).get("CELERY_NODE_PREFIX")
        assert prefix == node.split("@")[0], f"{name}: healthcheck pings {prefix}, node is {node}"
        test = " ".join(strings(svc["healthcheck"]["test"]))
        assert "inspect ping" in test and "CELERY_NODE_PREFIX" in test, name


def test_cpu_worker_queues(services: dict[str, dict[str, Any]]) -> None:
    cmd = command(services["worker-cpu"])
    assert option(cmd, "-Q", "--queues") == "cpu,maint"


def test_omero_repository_read_only_in_workers(services: dict[str, dict[str, Any]]) -> None:
    workers = _workers(services)
    assert workers
    for name, svc in workers.items():
        mounts = [(src, ro) for src, tgt, ro in volume_mounts(svc) if tgt == "/OMERO"]
        assert len(mounts) == 1, f"{name}: OMERO repository not mounted at /OMERO"
        src, ro = mounts[0]
        assert ro, f"{name}: /OMERO must be read-only"
        assert "OMERO_DATA_DIR" in variables(src), f"{name}: mount source {src}"
        assert environment(svc).get("OMERO_DATA_DIR") == "/OMERO", name
    for name, svc in services.items():
        for _, tgt, ro in volume_mounts(svc):
            if tgt.rstrip("/") == "/OMERO":
                assert ro, f"{name} mounts /OMERO writable"


def test_migrate_runs_first(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    assert command(migrate) == ["platequeue", "migrate"]
    assert str(migrate.get("restart", "no")) == "no"
    ours = {n: s for n, s in services.items() if "build" in s and n != "migrate"}
    assert {"web", "worker-cpu", "worker-gpu0", "beat", "flower"} <= set(ours)
    for name, svc in ours.items():
        dep = svc.get("depends_on", {}).get("migrate")
        assert dep and dep["condition"] == "service_completed_successfully", name


def test_web_flower_nginx(services: dict[str, dict[str, Any]]) -> None:
    web = command(services["web"])
    assert web[0] == "gunicorn" and web[-1] == "web.wsgi:app"
    flower = command(services["flower"])
    assert flower[:2] == ["platequeue", "flower"]
    assert option(flower, "--port") == "5555"
    # what that command runs: Flower under /flower/, read-only
    built = subprocess.run([sys.executable, "-m", "platequeue.cli", *flower[1:],
                            "--print-command"], capture_output=True, text=True, cwd=ROOT,
                           env={**os.environ, "PLATEQUEUE_HOME": str(ROOT / "var")},
                           timeout=60, check=True).stdout.split()
    assert built[built.index("-A") + 1:built.index("-A") + 3] == ["workers", "flower"]
    assert "--url_prefix=flower" in built and "--read_only=True" in built
    assert "--address=0.0.0.0" in built and "--port=5555" in built
    # Auth: Flower reads FLOWER_BASIC_AUTH from the env_file; never on the command line.
    assert not any("basic" in a.lower() and "=" in a and "${" not in a for a in flower)
    assert services["flower"].get("env_file")
    nginx = services["nginx"]
    confs = [src for src, tgt, ro in volume_mounts(nginx) if tgt.startswith("/etc/nginx/")]
    assert confs == ["./templates/nginx/platequeue.conf"]
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"


def test_bind_mounted_templates_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for src, _, _ in volume_mounts(svc):
            if src.startswith("./templates/"):
                assert (ROOT / src).is_file(), f"{name}: {src} missing"


def test_no_literal_secrets(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for key, value in environment(svc).items():
            if SECRET_NAME.search(key) and value is not None:
                assert ONLY_VAR.match(value), f"{name}: {key} must come from ${{VAR}}"
        for env_file in svc.get("env_file", []) if isinstance(svc.get("env_file"), list) else [
            svc.get("env_file")
        ]:
            assert env_file in (None, ".env"), f"{name}: unexpected env_file {env_file}"
        for arg in command(svc):
            if re.search(r"pass|secret|auth|token", arg, re.I) and "=" in arg:
                assert "${" in arg, f"{name}: literal credential in command: {arg}"
    for text in strings(compose):
        for pw in URL_PASSWORD.findall(text):
            assert pw.startswith("${"), f"literal password in URL: {text}"
        assert "CHANGE_ME" not in text, f"placeholder secret in compose.yaml: {text}"


def test_every_variable_is_in_template_env(compose: dict[str, Any]) -> None:
    used = set().union(*(variables(s) for s in strings(compose)))
    declared = parse_env_file(TEMPLATE_ENV)
    assert used, "compose.yaml interpolates nothing?"
    missing = sorted(used - set(declared))
    assert not missing, f"used in compose.yaml but not in templates/template.env: {missing}"


def test_app_services_share_one_build(services: dict[str, dict[str, Any]]) -> None:
    app = [s for s in services.values() if str(s.get("image", "")).startswith("platequeue:")]
    assert len({json.dumps(s["build"], sort_keys=True) for s in app}) == 1
    for svc in app + list(_gpu_workers(services).values()):
        assert svc["build"]["context"] == "."
        assert "user" not in svc, "the image's non-root user is the user"
