"""The access policy as a matrix: role (user, developer, operator, admin) x run owner (self,
other) x OMERO group type (private, read-only, read-annotate, read-write, public) x
membership (member or not) x action (see, cancel, rerun, preview), through the pages and
through the JSON API, which must give the same answer.

The expected answer is written out here from the rules (not computed by the policy):

* a run that is not yours is hidden (404) unless you are an operator or admin;
* your own run on a plate you may no longer read is refused (403), unless you are admin;
* cancel and rerun: the owner or an admin (operators are read-only: 403); a rerun also
  passes the submission checks, so the owner must still read the plate (404 otherwise);
* preview (pixels): OMERO's read rule on the image for everyone but admins (403).

``self`` runs on plates the viewer cannot read model a user who lost access after
submitting (the run rows are written directly).
"""

from __future__ import annotations

import pytest

from tests.security.conftest import LEVELS, ROLES, Matrix

ACTIONS = ("see", "cancel", "rerun", "preview")
CASES = [(role, owner, level, member) for role in ROLES for owner in ("self", "other")
         for level in LEVELS for member in (True, False)]


def readable(level: str, member: bool) -> bool:
    """OMERO: the plate (owned by ``<level>-owner``) is readable by a viewer who is not its
    owner when the group is public, or when the viewer is a member and it is not private."""
    return level == "public" or (member and level != "private")


def expected(role: str, owner: str, level: str, member: bool, action: str) -> int:
    own, can_read = owner == "self", readable(level, member)
    if not own and role not in ("operator", "admin"):
        return 404
    if own and role != "admin" and not can_read:
        return 403
    if action in ("cancel", "rerun"):
        if not own and role != "admin":
            return 403
        if action == "rerun" and own and not can_read:
            return 404  # the owner could not submit it now either
        return 200
    if action == "preview" and role != "admin" and not can_read:
        return 403
    return 200


def _outcome(status: int) -> int:
    """Pages redirect after a change (303); the API answers 200: both are 'allowed'."""
    return 200 if status in (200, 303) else status


def _page(m: Matrix, viewer: str, action: str, run_id: int) -> int:
    client, csrf = m.browser(viewer)
    if action == "see":
        return client.get(f"/runs/{run_id}").status_code
    if action == "preview":
        return client.get(f"/runs/{run_id}/wells/A1/fields/0/preview.png").status_code
    path = "cancel" if action == "cancel" else "rerun-failed"
    return client.post(f"/runs/{run_id}/{path}", data={"csrf_token": csrf}).status_code


def _api(m: Matrix, viewer: str, action: str, run_id: int) -> int:
    client = m.app.test_client()
    if action == "see":
        return client.get(f"/api/runs/{run_id}", headers=m.bearer(viewer)).status_code
    path = "cancel" if action == "cancel" else "rerun-failed"
    return client.post(f"/api/runs/{run_id}/{path}", headers=m.bearer(viewer)).status_code


@pytest.mark.parametrize(("role", "owner", "level", "member"), CASES,
                         ids=[f"{r}-{o}-{lv}-{'member' if mb else 'outsider'}"
                              for r, o, lv, mb in CASES])
def test_access_matrix(matrix: Matrix, role: str, owner: str, level: str,
                       member: bool) -> None:
    viewer = f"{role}-{'in' if member else 'out'}"
    run_owner = viewer if owner == "self" else f"{level}-owner"
    got: dict[str, tuple[int, ...]] = {}
    want: dict[str, tuple[int, ...]] = {}
    for action in ACTIONS:
        status = "failed" if action == "rerun" else "running"
        page = _outcome(_page(matrix, viewer, action, matrix.run(run_owner, level, status)))
        exp = expected(role, owner, level, member, action)
        if action == "preview":  # pages only: the API serves no pixels
            got[action], want[action] = (page,), (exp,)
            continue
        api = _outcome(_api(matrix, viewer, action, matrix.run(run_owner, level, status)))
        got[action], want[action] = (page, api), (exp, exp)
    assert got == want
