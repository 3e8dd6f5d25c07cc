from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from platequeue.demo import DemoManifest, build_full
from platequeue.omero import GROUP_LEVELS, OmeroCatalog, can_read, is_admin, perm_string

from .conftest import fresh_db

ROLES = ("owner", "member", "leader", "non-member", "admin")
# level -> roles that may read a plate owned by <level>-owner in <level>-lab
EXPECTED = {
    "private": {"owner", "leader", "admin"},
    "read-only": {"owner", "member", "leader", "admin"},
    "read-annotate": {"owner", "member", "leader", "admin"},
    "read-write": {"owner", "member", "leader", "admin"},
    "public": set(ROLES),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def full(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoManifest, Engine]]:
    d = tmp_path_factory.mktemp(f"perm_{request.param}")
    with fresh_db(request.param, d) as url:
        m = build_full(url, d)
        eng = create_engine(url)
        yield m, eng
        eng.dispose()


def _user(m: DemoManifest, level: str, role: str) -> int:
    if role == "non-member":
        return m.users["outsider"]
    if role == "admin":
        return m.users["facility"]
    return m.users[f"{level}-{role}"]


@pytest.mark.parametrize("level", list(GROUP_LEVELS))
def test_read_matrix(full: tuple[DemoManifest, Engine], level: str) -> None:
    m, eng = full
    cat = OmeroCatalog(eng)
    plate = next(p for p in m.plates if p.name == f"{level} plate")
    image = plate.images["A1"][0]
    for role in ROLES:
        uid = _user(m, level, role)
        want = role in EXPECTED[level]
        assert cat.can_read_plate(uid, plate.id) is want, (level, role)
        assert cat.can_read_image(uid, image) is want, (level, role)
        listed = plate.id in {p.id for p in cat.plates_for_user(uid)}
        assert listed is want, (level, role)
        with eng.connect() as conn:
            assert can_read(conn, uid, "well", plate.wells["A1"]) is want
            assert can_read(conn, uid, "pixels", cat.pixels(image).id) is want


def test_roles_and_strings(full: tuple[DemoManifest, Engine]) -> None:
    m, eng = full
    with eng.connect() as conn:
        assert is_admin(conn, 0) and is_admin(conn, m.users["facility"])
        assert not is_admin(conn, m.users["private-leader"])
        with pytest.raises(ValueError, match="cannot be checked"):
            can_read(conn, 0, "experimenter; drop table plate", 1)
    assert {k: perm_string(v) for k, v in GROUP_LEVELS.items()} == {
        "private": "rw----", "read-only": "rwr---", "read-annotate": "rwra--",
        "read-write": "rwrw--", "public": "rwr-r-"}


def test_guest_and_other_users_see_only_public(full: tuple[DemoManifest, Engine]) -> None:
    m, eng = full
    cat = OmeroCatalog(eng)
    public = next(p for p in m.plates if p.name == "public plate")
    assert [p.id for p in cat.plates_for_user(1)] == [public.id]
    member_of_private = m.users["private-member"]
    seen = {p.name for p in cat.plates_for_user(member_of_private)}
    assert seen == {"public plate"}
