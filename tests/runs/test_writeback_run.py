"""Write-back after a run: which outcome, with which rows, on which session, audited.

No OMERO server runs here, so the omero-py call itself is replaced by a recording writer
(the only double in these tests); everything around it — the finished run in PostgreSQL,
the session key in Redis, the audit trail, the worker that sends the task — is real.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import select

from platequeue import runs
from platequeue.platform import Platform, set_platform
from platequeue.runs import write_back_run
from platequeue.store import AuditEvent, session_scope
from platequeue.testing import free_port
from tests.conftest import Stack, wait_for

pytestmark = pytest.mark.slow
TERMINAL = ("succeeded", "partial", "failed", "cancelled")


def _events(platform: Platform, run_id: int, prefix: str = "writeback") -> list[AuditEvent]:
    with session_scope(platform.audit) as s:
        found = list(s.scalars(select(AuditEvent).where(
            AuditEvent.run_id == run_id, AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.id)))
        s.expunge_all()
    return found


def _finished_run(stack: Stack) -> tuple[Platform, int]:
    platform = stack.platform()
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    stack.start_worker()
    view = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="nuclei-count")
    wait_for(lambda: runs.status(platform, view.run_id).status in TERMINAL, 180, "run end")
    assert runs.status(platform, view.run_id).status == "succeeded"
    # the worker's own write-back task ran without OMERO_HOST: skipped, and audited
    wait_for(lambda: bool(_events(platform, view.run_id)), 30, "the worker's write-back")
    assert [e.action for e in _events(platform, view.run_id)] == ["writeback-skipped"]
    return platform, view.run_id


def _with_host(platform: Platform) -> Platform:
    settings = dataclasses.replace(platform.settings, omero_host="omero.invalid")
    p = Platform(settings)
    set_platform(p)
    return p


def test_writeback_outcomes(stack: Stack) -> None:
    platform, run_id = _finished_run(stack)
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    served = _with_host(platform)
    calls: list[dict[str, Any]] = []

    def writer(host: str, port: int, key: str, plate_id: int, rows: list[dict[str, Any]],
               *, name: str) -> dict[str, int]:
        calls.append({"host": host, "port": port, "key": key, "plate_id": plate_id,
                      "rows": rows, "name": name})
        return {"table": 901, "csv": 902, "map_annotations": len({r["well_id"] for r in rows})}

    # no session attached to the run: nothing is called, the reason is audited
    assert write_back_run(served, run_id, writer=writer) == "no-session"
    assert calls == []
    assert "carries no OMERO session" in _events(served, run_id)[-1].detail["reason"]

    runs.attach_omero_session(served, run_id, "b3a1c0de-session-key")
    assert write_back_run(served, run_id, writer=writer) == "done"
    (call,) = calls
    assert (call["host"], call["port"], call["key"]) == ("omero.invalid", 4064,
                                                        "b3a1c0de-session-key")
    assert call["plate_id"] == plate.id and call["name"] == "platequeue nuclei-count"
    assert len(call["rows"]) == len(plate.wells) * plate.fields
    for row in call["rows"]:
        assert row["well_id"] == plate.wells[row["well"]]  # OMERO well ids, for WellColumn
        assert row["count"] == plate.count(row["well"], int(row["field"]))
    done = _events(served, run_id)[-1]
    assert done.action == "writeback-done"
    assert done.detail["created"] == {"table": 901, "csv": 902, "map_annotations": 96}

    def broken(*args: Any, **kwargs: Any) -> dict[str, int]:
        raise RuntimeError("SecurityViolation: session expired")

    assert write_back_run(served, run_id, writer=broken) == "failed"
    failed = _events(served, run_id)[-1]
    assert failed.action == "writeback-failed"
    assert "SecurityViolation" in failed.detail["reason"]


def test_worker_writeback_failure_is_audited(stack: Stack) -> None:
    """With OMERO_HOST set, a real worker's write-back task either finds no omero-py (and
    says so) or, with omero-py, really tries the server — here a closed port — and audits
    why it could not write, instead of failing silently."""
    from platequeue.omero import omero_available

    port = free_port()
    stack.env.update({"OMERO_HOST": "127.0.0.1", "OMERO_PORT": str(port)})
    platform = stack.platform()
    plate = stack.manifest.plates[0]  # type: ignore[attr-defined]
    stack.start_worker()
    view = runs.submit(platform, omename="demo", plate_id=plate.id, pipeline="nuclei-count")
    runs.attach_omero_session(platform, view.run_id, "b3a1c0de-session-key")
    wait_for(lambda: bool(_events(platform, view.run_id)), 180, "the worker's write-back")
    (event,) = _events(platform, view.run_id)
    assert event.action == "writeback-failed"
    reason = event.detail["reason"]
    if omero_available():
        assert f"cannot reach OMERO at 127.0.0.1:{port}" in reason, reason
        assert "b3a1c0de" not in reason  # the session key never lands in the audit log
    else:
        assert "omero-py is not installed" in reason, reason
