"""``/submit?screen=ID`` (the link OMERO.web's "Analyse with platequeue" hands over for a
screen) preselects the screen's plates the user may read, through ``accounts.policy``."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from platequeue.accounts import policy
from platequeue.errors import NotFound
from tests.web.conftest import SignIn

CHECKED = re.compile(r'name="plate" value="(\d+)" data-plates\s+checked')


def _ids(s: SignIn) -> tuple[int, int, int]:
    """(the demo screen, its plate, the other lab's private plate), linked into the
    screen too so that the screen holds a plate demo may not read."""
    with s.platform.omero.begin() as conn:
        screen = conn.execute(text("SELECT id FROM screen WHERE name = 'Demo screen'")).scalar_one()
        demo_plate = conn.execute(text("SELECT id FROM plate WHERE name = 'Demo plate 1'")
                                  ).scalar_one()
        other = conn.execute(text("SELECT id FROM plate WHERE name = 'Other lab plate'")
                             ).scalar_one()
        link = conn.execute(text("SELECT * FROM screenplatelink LIMIT 1")).mappings().one()
        row = {**link, "id": conn.execute(text("SELECT max(id) + 1 FROM screenplatelink")
                                          ).scalar_one(), "child": other}
        cols = ", ".join(row)
        conn.execute(text(f"INSERT INTO screenplatelink ({cols}) "
                          f"VALUES ({', '.join(':' + c for c in row)})"), row)
    return int(screen), int(demo_plate), int(other)


def _uid(s: SignIn, omename: str) -> int:
    exp = s.platform.catalog.find_user(omename)
    assert exp is not None
    return exp.id


def test_policy_lists_only_the_screen_plates_the_user_may_read(signin: SignIn) -> None:
    screen, demo_plate, other = _ids(signin)
    p = signin.platform
    assert policy.readable_screen_plates(p, _uid(signin, "demo"), screen) == [demo_plate]
    assert policy.readable_screen_plates(p, _uid(signin, "facility"), screen) == \
        sorted([demo_plate, other])  # an administrator reads every plate
    for omename, sid in (("outsider", screen), ("demo", 987654)):  # unreadable, unknown
        with pytest.raises(NotFound, match=f"no screen with id {sid} that you may read"):
            policy.readable_screen_plates(p, _uid(signin, omename), sid)


def test_submit_preselects_the_readable_plates_of_a_screen(signin: SignIn) -> None:
    screen, demo_plate, _other = _ids(signin)
    assert signin.sign_in("demo").status_code == 302
    res = signin.client.get("/submit", query_string={"screen": screen})
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and 'id="form-errors"' not in html
    assert CHECKED.findall(html) == [str(demo_plate)]
    # without a screen nothing is preselected
    html = signin.client.get("/submit").get_data(as_text=True)
    assert CHECKED.findall(html) == []


def test_an_unreadable_or_unknown_screen_is_one_message(signin: SignIn) -> None:
    screen, _plate, _other = _ids(signin)
    assert signin.sign_in("outsider").status_code == 302
    for sid in (str(screen), "987654", str(2**64)):
        res = signin.client.get("/submit", query_string={"screen": sid})
        html = res.get_data(as_text=True)
        assert res.status_code == 200, html[:300]
        assert f"you may not read screen(s) [{sid}]" in html
        assert CHECKED.findall(html) == []
