"""Rerun the failed wells of a finished run, as a submission again: the run must be partial
or failed, its owner must still read the plate, the pipeline must be enabled, a custom step
still needs a developer (and the feature on), and the quotas apply (the run counts as its
owner's active run again, under the same lock as a submission, ``platequeue.accounts.quotas``).
Who may ask for it is ``platequeue.accounts.policy``'s question, asked by the callers.
"""

from __future__ import annotations

from sqlalchemy import and_, update

from platequeue.accounts import pipeline_admin, policy, quotas
from platequeue.errors import Conflict
from platequeue.platform import Platform
from platequeue.runs import _custom_steps as custom_steps
from platequeue.runs._dispatch import dispatch
from platequeue.runs._service import RunView, load_run, status
from platequeue.store import (
    Run,
    RunStatus,
    User,
    WellStatus,
    WellTask,
    affected,
    audit,
    session_scope,
)

__all__ = ["rerun_failed"]


def rerun_failed(platform: Platform, run_id: int, *, actor: str) -> RunView:
    """Queue again just the failed wells of a finished run, after the checks a submission
    passes (:func:`_rerun_checks`); the run counts against its owner's quota again."""
    with session_scope(platform.audit) as s:
        run = load_run(s, run_id)
        owner = run.user
        s.expunge(owner)
    _rerun_checks(platform, run_id, owner)
    n = 0
    with session_scope(platform.audit) as s:
        refusal = quotas.hold_active_slot(s, platform, owner)
        if refusal is None:
            run = load_run(s, run_id)
            if run.status not in (RunStatus.PARTIAL.value, RunStatus.FAILED.value):
                raise Conflict(f"run {run_id} is {run.status}; only partial or failed runs "
                               "rerun")
            failed = s.execute(update(WellTask)
                               .where(WellTask.run_id == run_id,
                                      WellTask.status == WellStatus.FAILED.value)
                               .values(status=WellStatus.QUEUED.value, attempts=0, error=None,
                                       dispatched_at=None, finished_at=None, task_id=None))
            n = affected(failed)
            s.execute(update(Run).where(and_(Run.id == run_id))
                      .values(status=RunStatus.RUNNING.value,
                              wells_failed=Run.wells_failed - n,
                              finalized=False, finished_at=None))
            audit(s, actor, "rerun", run_id, wells=n)
    if refusal is not None:
        raise quotas.refuse(platform, owner, actor, refusal)
    dispatch(platform)
    return status(platform, run_id)


def _rerun_checks(platform: Platform, run_id: int, owner: User) -> None:
    """A rerun is a submission again: the run must be partial or failed, its owner must
    still read the plate, the pipeline must be enabled, and a custom step still needs a
    developer (and the feature on)."""
    with session_scope(platform.audit) as s:
        run = load_run(s, run_id)
        state, plate_id, pipeline = run.status, run.plate_id, run.pipeline_name
        step = run.custom_step_id
    if state not in (RunStatus.PARTIAL.value, RunStatus.FAILED.value):
        raise Conflict(f"run {run_id} is {state}; only partial or failed runs rerun")
    policy.readable_plate(platform, owner.omero_user_id, plate_id)
    pipeline_admin.check_enabled(platform, pipeline)
    if step is not None:
        custom_steps.check_usable(platform, owner, step)
