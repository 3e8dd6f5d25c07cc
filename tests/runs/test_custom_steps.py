"""Custom steps end to end: real PostgreSQL, real Redis, real HTTP, real worker processes.

A developer ships a function with the Python client; a run naming it goes to the ``custom``
queue as a JSON message holding the well-task id alone; a worker on ``-Q custom`` verifies
the artifact's hash and HMAC before unpickling and stores ``custom.<name>`` per field.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import dill
import numpy as np
import pytest
from sqlalchemy import select, update

from platequeue import runs
from platequeue.accounts import ensure_user, tokens
from platequeue.client import Client, ClientError
from platequeue.errors import Conflict
from platequeue.platform import Platform
from platequeue.runs import custom_steps
from platequeue.store import AuditEvent, Measurement, StepArtifact, WellTask, session_scope
from platequeue.testing import served
from tests.conftest import Stack, wait_for

pytestmark = [pytest.mark.slow]
TERMINAL = ("succeeded", "partial", "failed", "cancelled")


def _step(marker: Path) -> Any:
    """A step defined in a function (so dill ships its code, not a reference to this
    module) that leaves a marker file behind whenever it runs."""
    def mean_c0(field: Any) -> float:
        with open(marker, "a") as fh:
            fh.write("ran\n")
        return float(field[0].mean())
    return mean_c0


def _clients(stack: Stack, platform: Platform, base: str) -> tuple[Client, Client]:
    """``demo`` made a developer through the CLI; ``alice`` a plain user of the same lab."""
    dev, plain = ensure_user(platform, "demo"), ensure_user(platform, "alice")
    res = stack.cli("user", "role", "demo", "developer", check=True)
    assert "user -> developer" in res.stdout
    make = lambda u: tokens.create(platform, u.id, name="t", scope="submit", days=1)  # noqa: E731
    return Client(base, make(dev)), Client(base, make(plain))


def _plate_id(stack: Stack) -> int:
    return int(stack.manifest.plates[0].id)  # type: ignore[attr-defined]


def _queued_messages(stack: Stack, queue: str) -> list[dict[str, Any]]:
    import redis

    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    return [json.loads(raw) for raw in client.lrange(queue, 0, -1)]


def _finished(platform: Platform, run_id: int) -> runs.RunView:
    wait_for(lambda: runs.status(platform, run_id).status in TERMINAL, 240, f"run {run_id}")
    return runs.status(platform, run_id)


def test_developer_step_runs_on_the_custom_queue(stack: Stack, tmp_path: Path) -> None:
    from web import create_app

    stack.env["CUSTOM_STEPS"] = "true"
    platform = stack.platform()
    marker = tmp_path / "ran.txt"
    stack.start_worker(queues="cpu,maint")  # the default queues: never takes custom runs
    with served(create_app({"TESTING": True}, platform=platform)) as base:
        dev, plain = _clients(stack, platform, base)
        func = _step(marker)
        with pytest.raises(ClientError) as refused:
            plain.upload_step("mean_c0", func)
        assert refused.value.status == 403 and "developer role" in refused.value.message
        artifact = dev.upload_step("mean_c0", func)
        with pytest.raises(ClientError) as refused:
            plain.submit(_plate_id(stack), "nuclei-count", custom_step=artifact)
        assert refused.value.status == 403
        with pytest.raises(ClientError) as refused:  # and no incremental shortcut
            dev._json("POST", "/runs", json={"plate_id": _plate_id(stack),
                                             "pipeline": "nuclei-count",
                                             "custom_step": artifact, "incremental": True})
        assert refused.value.status == 422
        [run] = dev.submit(_plate_id(stack), "nuclei-count", custom_step=artifact)
        assert run["queue"] == "custom"

        # on the broker: JSON messages carrying the well-task id and nothing else
        wells_total = run["wells_total"]
        expected = min(wells_total, platform.settings.fair_share_wells)
        wait_for(lambda: len(_queued_messages(stack, "custom")) == expected, 30, "messages")
        with session_scope(platform.audit) as s:
            ids = set(s.scalars(select(WellTask.id).where(WellTask.run_id == run["run_id"])))
        for msg in _queued_messages(stack, "custom"):
            assert msg["content-type"] == "application/json"
            args, kwargs, _embed = json.loads(base64.b64decode(msg["body"]))
            assert kwargs == {} and len(args) == 1 and args[0] in ids
        time.sleep(2)  # the cpu worker is up: it must not have touched the run
        assert dev.run(run["run_id"])["status"] == "queued" and not marker.exists()

        stack.start_worker(queues="custom")
        final = dev.wait(run["run_id"], timeout=240)
        assert final["status"] == "succeeded" and final["wells_done"] == wells_total
    with session_scope(platform.audit) as s:
        got = {(m.image_id, m.field): m.value for m in s.scalars(select(Measurement).where(
            Measurement.run_id == run["run_id"], Measurement.feature == "custom.mean_c0"))}
        features = set(s.scalars(select(Measurement.feature).where(
            Measurement.run_id == run["run_id"])))
        uploads = s.scalars(select(AuditEvent).where(AuditEvent.action == "step-upload")).all()
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    assert len(got) == wells_total * plate.fields
    assert "count" in features  # the pipeline's own features are still there
    for image_id, _field in got:
        pixels = platform.catalog.pixels(image_id)
        truth = np.asarray(platform.read_field(pixels, native=True))[0].astype(np.float64)
        assert got[(image_id, _field)] == pytest.approx(float(truth.mean()), rel=1e-9)
    assert len(marker.read_text().splitlines()) == len(got)
    assert [u.detail["artifact"] for u in uploads] == [artifact]


def test_tampered_artifacts_are_refused_by_the_worker(stack: Stack, tmp_path: Path) -> None:
    stack.env["CUSTOM_STEPS"] = "true"
    platform = stack.platform()
    dev = ensure_user(platform, "demo")
    stack.cli("user", "role", "demo", "developer", check=True)
    dev = ensure_user(platform, "demo")
    honest, evil = tmp_path / "honest.txt", tmp_path / "evil.txt"
    signed = custom_steps.store(platform, dev, "sig", dill.dumps(_step(honest), recurse=True))
    swapped = custom_steps.store(platform, dev, "swap", dill.dumps(_step(honest), recurse=True))
    # one row keeps its bytes but loses its signature; the other gets other code with a
    # matching sha256 (what someone with write access to the database but no SECRET_KEY
    # could do)
    other = dill.dumps(_step(evil), recurse=True)
    with session_scope(platform.audit) as s:
        s.execute(update(StepArtifact).where(StepArtifact.id == signed.id)
                  .values(signature="0" * 64))
        s.execute(update(StepArtifact).where(StepArtifact.id == swapped.id)
                  .values(payload=other, sha256=hashlib.sha256(other).hexdigest()))
    stack.start_worker(queues="custom,maint")
    for art in (signed, swapped):
        view = runs.submit(platform, omename="demo", plate_id=_plate_id(stack),
                           pipeline="nuclei-count", custom_step=art.id)
        final = _finished(platform, view.run_id)
        assert final.status == "failed" and final.wells_failed == final.wells_total
        with session_scope(platform.audit) as s:
            wells = s.scalars(select(WellTask).where(WellTask.run_id == view.run_id)).all()
            n_meas = len(s.scalars(select(Measurement.id).where(
                Measurement.run_id == view.run_id)).all())
        for w in wells:
            assert w.error and f"custom step artifact {art.id} ({art.name!r}) refused" in w.error
            assert w.attempts == 1 and w.bytes_read is None  # refused before any read
        assert n_meas == 0
    assert not honest.exists() and not evil.exists()  # no custom code ran, anywhere


def test_custom_steps_off_refuses_everywhere(stack: Stack, tmp_path: Path) -> None:
    from web import create_app

    platform = stack.platform()
    assert platform.settings.custom_steps is False  # the default
    dev = ensure_user(platform, "demo")
    stack.cli("user", "role", "demo", "developer", check=True)
    dev = ensure_user(platform, "demo")
    marker = tmp_path / "ran.txt"
    payload = dill.dumps(_step(marker), recurse=True)
    with pytest.raises(Conflict, match="CUSTOM_STEPS=false"):
        custom_steps.store(platform, dev, "mean_c0", payload)
    # an artifact stored while the feature was on, then switched off
    on = Platform(dataclasses.replace(platform.settings, custom_steps=True))
    art = custom_steps.store(on, dev, "mean_c0", payload)
    with pytest.raises(custom_steps.ArtifactRefused, match=f"artifact {art.id} refused"):
        custom_steps.load_verified(platform, art.id)
    name, func = custom_steps.load_verified(on, art.id)  # the same bytes load when on
    assert name == "mean_c0" and callable(func) and not marker.exists()
    with served(create_app({"TESTING": True}, platform=platform)) as base:
        client = Client(base, tokens.create(platform, dev.id, name="t", scope="submit", days=1))
        with pytest.raises(ClientError) as refused:
            client.upload_step("mean_c0", _step(marker))
        assert refused.value.status == 404 and "CUSTOM_STEPS=false" in refused.value.message
        with pytest.raises(ClientError) as refused:
            client.submit(_plate_id(stack), "nuclei-count", custom_step=art.id)
        assert refused.value.status == 409 and "CUSTOM_STEPS=false" in refused.value.message
    assert runs.list_runs(platform) == []
    assert not marker.exists()
