"""FS-imported plates through real workers: Bio-Formats in the pool children, never the parent.

The companion OME-TIFF and MetaXpress plates hold the ROMIO twin's pixels, so their
measurements must equal it feature by feature; the synthetic plate's counts must equal
nuclei-count on a plain Bio-Formats read (its ground truth).  Workers recycled after every
task, or SIGKILLed with Bio-Formats loaded, still finish the runs; without Java or the jar
those plates fail with one clear error while the others succeed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from platequeue import runs
from platequeue.demo import FS_PLATE_NAMES
from platequeue.omero import BioFormatsConfig, Source, bf_available
from platequeue.runs import estimate
from platequeue.store import WellTask, session_scope
from tests.conftest import Stack, wait_for
from tests.web.pages_fixtures import login
from web import create_app

# Generous: the full fixture (three Bio-Formats probes), then runs where every recycled pool
# child starts its own JVM, on a shared, loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.full_fixture, pytest.mark.timeout(2400),
              pytest.mark.skipif(bf_available(BioFormatsConfig()) is not None,
                                 reason="no Java runtime or Bio-Formats jar here")]
TERMINAL = ("succeeded", "partial", "failed", "cancelled")
FS = tuple(FS_PLATE_NAMES.values())


def _worker(stack: Stack, *extra: str, concurrency: int = 2) -> Any:
    hostname = f"bf{len(stack.procs)}-{secrets.token_hex(3)}@test"
    proc = stack.start("worker", "-P", "prefork", "-c", str(concurrency), "-Q", "cpu,maint",
                       "-n", hostname, "--loglevel", "INFO", "-E", *extra, name="worker")
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    wait_for(lambda: client.get(f"platequeue:worker:{hostname}") is not None
             or proc.poll() is not None, 90, f"worker {hostname}")
    assert proc.poll() is None, f"worker {hostname} died; see {stack.home}"
    return proc


def _plates(stack: Stack) -> dict[str, Any]:
    return {p.name: p for p in stack.manifest.plates}  # type: ignore[attr-defined]


def _submit_wait(stack: Stack, plate_id: int) -> dict[str, Any]:
    res = stack.cli("submit", "--user", "demo", "--plate", str(plate_id), "--pipeline",
                    "nuclei-count", "--wait", "--json", timeout=600)
    out: dict[str, Any] = json.loads(res.stdout)
    return out


def _results(stack: Stack, run_id: int) -> dict[tuple[str, int], dict[str, Any]]:
    res = stack.cli("results", str(run_id), "--format", "json", check=True)
    return {(r["well"], int(r["field"])): r for r in json.loads(res.stdout)}


def _features(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("plate_id", "image_id")}


def _check_truth(stack: Stack, name: str, run_id: int) -> dict[tuple[str, int], dict[str, Any]]:
    truth = _plates(stack)[name]
    rows = _results(stack, run_id)
    assert len(rows) == sum(len(v) for v in truth.counts.values()), name
    for (label, field), row in rows.items():
        assert row["count"] == truth.count(label, field), (name, label, field)
    return rows


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def test_fs_plates_match_truth_and_twin_with_recycled_workers(stack: Stack) -> None:
    platform = stack.platform()
    plates = _plates(stack)
    for name in FS:
        info = platform.catalog.pixels(plates[name].images["A1"][0])
        assert platform.reader.source(info)[0] is Source.BIOFORMATS, name
    # A pool child is replaced after every task: each well starts a fresh JVM.
    worker = _worker(stack, "--max-tasks-per-child", "1")
    twin = _submit_wait(stack, plates["romio twin plate"].id)
    assert twin["status"] == "succeeded", twin
    reference = _check_truth(stack, "romio twin plate", twin["run_id"])
    for name in FS:
        out = _submit_wait(stack, plates[name].id)
        assert out["status"] == "succeeded" and out["wells_failed"] == 0, (name, out)
        rows = _check_truth(stack, name, out["run_id"])
        if name != FS_PLATE_NAMES["fake"]:  # same pixels as the twin: same measurements
            assert rows.keys() == reference.keys()
            for key, row in rows.items():
                assert _features(row) == _features(reference[key]), (name, key)
    assert "libjvm" not in _maps(worker.pid)  # the prefork parent never loads a JVM
    log = "".join(p.read_text(errors="replace") for p in stack.home.glob("worker-*.log"))
    jvm_pids = {int(pid) for pid in re.findall(r"started JVM .* in pid (\d+)", log)}
    # Recycled after each task: many children started their own JVM, never the parent.
    assert len(jvm_pids) >= 2 and worker.pid not in jvm_pids, jvm_pids
    assert "refusing to start a JVM" not in log


def test_sigkill_with_bioformats_loaded_finishes(stack: Stack) -> None:
    plates = _plates(stack)
    worker = _worker(stack, concurrency=1)
    stack.start_beat()
    platform = stack.platform()
    run_ids = [runs.submit(platform, omename="demo", plate_id=plates[n].id,
                           pipeline="nuclei-count").run_id for n in FS]
    wait_for(lambda: runs.status(platform, run_ids[0]).wells_done >= 1, 300, "a first well")
    wait_for(lambda: any("libjvm" in _maps(c) for c in _children(worker.pid)), 60,
             "a pool child with the JVM loaded")
    stack.kill(worker)
    assert any(runs.status(platform, r).status not in TERMINAL for r in run_ids)
    _worker(stack, concurrency=2)
    wait_for(lambda: all(runs.status(platform, r).status in TERMINAL for r in run_ids), 600,
             "all runs to finish")
    for name, run_id in zip(FS, run_ids, strict=True):
        assert runs.status(platform, run_id).status == "succeeded", name
        _check_truth(stack, name, run_id)
        with session_scope(platform.audit) as s:
            wells = s.scalars(select(WellTask.well_id).where(WellTask.run_id == run_id)).all()
        assert len(wells) == len(set(wells)) == len(plates[name].wells)
    # Incremental: the fileset's files are the input (one fileset for the whole plate here):
    # unchanged, every well is skipped; touching any of its files recomputes every well.
    comp = plates[FS_PLATE_NAMES["companion"]]
    again = runs.submit(platform, omename="demo", plate_id=comp.id, pipeline="nuclei-count",
                        incremental=True)
    assert again.wells_skipped == len(comp.wells) and again.status == "succeeded"
    info = platform.catalog.pixels(comp.images["A1"][0])
    folder = stack.settings.omero_data_dir / "ManagedRepository" / str(info.path)
    (tif,) = folder.glob("*_A1_f0.ome.tif")
    st = tif.stat()
    os.utime(tif, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = runs.submit(platform, omename="demo", plate_id=comp.id, pipeline="nuclei-count",
                        incremental=True)
    assert third.wells_skipped == 0
    wait_for(lambda: runs.status(platform, third.run_id).status in TERMINAL, 300, "rerun")
    assert runs.status(platform, third.run_id).status == "succeeded"
    _check_truth(stack, FS_PLATE_NAMES["companion"], third.run_id)
    fourth = runs.submit(platform, omename="demo", plate_id=comp.id, pipeline="nuclei-count",
                         incremental=True)
    assert fourth.wells_skipped == len(comp.wells) and fourth.status == "succeeded"


@pytest.mark.parametrize("broken", ["jar", "java"])
def test_without_bioformats_those_plates_fail_clearly(stack: Stack, broken: str,
                                                      tmp_path: Path) -> None:
    if broken == "jar":
        stack.env["BIOFORMATS_JAR"] = str(tmp_path / "nowhere" / "bioformats_package.jar")
        message = "Bio-Formats jar not found at"
    else:
        stack.env["JAVA_HOME"] = str(tmp_path / "no-java")
        message = "Java runtime not found"
    plates = _plates(stack)
    htd_id = plates[FS_PLATE_NAMES["htd"]].id
    # The dry run says so before anything is queued (no JVM, no pixels read).
    problem = estimate.plate_estimate(stack.platform(), htd_id).problem
    assert problem is not None and message in problem, problem
    assert estimate.plate_estimate(stack.platform(), plates["romio twin plate"].id).problem is None
    # The plate's page says so too.

    stack.env["APP_ENV"] = "development"
    app = create_app(platform=stack.platform())
    app.config["TESTING"] = True
    client = app.test_client()
    login(client, "demo")
    page = client.get(f"/plates/{htd_id}").get_data(as_text=True)
    assert 'id="read-problem"' in page and message in page
    twin_page = client.get(f"/plates/{plates['romio twin plate'].id}").get_data(as_text=True)
    assert 'id="read-problem"' not in twin_page
    _worker(stack)
    out = _submit_wait(stack, htd_id)
    assert out["status"] == "failed" and out["wells_done"] == 0, out
    with session_scope(stack.platform().audit) as s:
        failed = s.execute(select(WellTask.error, WellTask.attempts)
                           .where(WellTask.run_id == out["run_id"])).all()
    assert failed and all(message in (e or "") and a == 1 for e, a in failed), failed
    ok = _submit_wait(stack, plates["romio twin plate"].id)
    assert ok["status"] == "succeeded"
    _check_truth(stack, "romio twin plate", ok["run_id"])
