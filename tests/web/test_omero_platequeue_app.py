"""The OMERO.web app ``omero_platequeue`` in a real OMERO.web, configured as deployed with
the commands its README gives, and the sign-in it hands over to platequeue.

OMERO.web runs in subprocesses (:mod:`tests.web.omeroweb_app`; Django's settings are
process-global), configured through ``OMERODIR/etc/grid/config.xml`` by omero-py's own
``omero config`` code. No OMERO server runs: the view's ``login_required`` is reached with
a connection handed in (see the helper), and the anonymous request shows it is guarded.
What needs a server — joining the user's OMERO session in OMERO.web, and the "Open with"
menu drawn by the web client's JavaScript — is not exercised here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import ROOT, leased_redis_db
from tests.web.conftest import SignIn
from tests.web.test_omero_signin import _me, _omero_session

pytest.importorskip("omeroweb", reason="needs omero-web (the omeroweb-test extra)")
pytest.importorskip("django_redis", reason="needs django-redis (the omeroweb-test extra)")
pytest.importorskip("omero_platequeue",
                    reason="needs the OMERO.web app (pip install -e contrib/omero-platequeue)")

HELPER = Path(__file__).with_name("omeroweb_app.py")
APP_README = ROOT / "contrib" / "omero-platequeue" / "README.md"
# What an administrator runs (both READMEs give these lines verbatim).
ADD_APP = "omero config append omero.web.apps '\"omero_platequeue\"'"
ADD_OPEN_WITH = ("omero config append omero.web.open_with '[\"platequeue\", "
                 "\"omero_platequeue_analyse\", {\"supported_objects\": [\"plates\", "
                 "\"screens\"], \"label\": \"Analyse with platequeue\"}]'")
SET_URL = "omero config set omero.web.platequeue.url https://platequeue.example.org"
APP_URL = "/omero_platequeue/analyse/"
KEY = "7c0d6a50-2f3b-4a7e-8a65-3b1f2c9d0e44"
CHECKED = re.compile(r'name="plate" value="(\d+)" data-plates\s+checked')


def _run(*args: str) -> str:
    res = subprocess.run([sys.executable, str(HELPER), *args], capture_output=True,
                         text=True, timeout=180, cwd=ROOT, env=dict(os.environ))
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def _omero_web(root: Path, redis_url: str, *commands: str) -> Path:
    """An OMERODIR configured by *commands*, with OMERO.web's sessions in Redis."""
    (root / "etc" / "grid").mkdir(parents=True)
    (root / "var" / "log").mkdir(parents=True)
    caches = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}}
    _run("configure", str(root),
         "omero config set omero.web.session_engine django.contrib.sessions.backends.cache",
         f"omero config set omero.web.caches '{json.dumps(caches)}'", *commands)
    return root


def _probe(omerodir: Path, key: str, requests: dict[str, list[list[str]]]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(_run("probe", str(omerodir), json.dumps(
        {"key": key, "requests": requests})).strip().splitlines()[-1])
    return out


REQUESTS = {"plate": [["plate", "51"]], "plates": [["plate", "7"], ["plate", "3"]],
            "screen": [["screen", "2"]], "mixed": [["plate", "4"], ["screen", "5"]],
            "bad": [["plate", "51<b>"]], "none": [["image", "9"]]}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One OMERO.web with the app, its "Open with" entry and platequeue's URL; one with
    the app but without the URL."""
    with leased_redis_db() as redis_url:
        root = tmp_path_factory.mktemp("omero-web")
        full = _omero_web(root / "full", redis_url, ADD_APP, ADD_OPEN_WITH,
                          SET_URL.replace("https://platequeue.example.org",
                                          "https://pq.example.org/platequeue/"))
        unset = _omero_web(root / "unset", redis_url, ADD_APP, ADD_OPEN_WITH)
        yield {"full": _probe(full, KEY, REQUESTS), "unset": _probe(unset, KEY, REQUESTS),
               "full_dir": full, "redis_url": redis_url}


def test_the_readmes_give_the_commands_tested_here() -> None:
    for readme in (APP_README, ROOT / "README.md"):
        text = readme.read_text()
        for command in (ADD_APP, ADD_OPEN_WITH, SET_URL):
            assert command in text, f"{readme.name} lacks: {command}"


def test_the_app_is_installed_and_its_url_is_under_omero_web(deployed: dict[str, Any]
                                                              ) -> None:
    full = deployed["full"]
    assert full["installed"] and full["root_urlconf"] == "omeroweb.urls"
    assert full["url"] == APP_URL  # reverse() through OMERO.web's own URL conf
    assert full["resolves_to"] == "omero_platequeue.views.analyse"
    assert full["setting"] == "https://pq.example.org/platequeue/"
    assert deployed["unset"]["setting"] == ""


def _enabled(supported: list[str], selected: str) -> bool:
    """The web client's rule (ome.tree.js, the right panel's toolbar): an "Open with" entry
    is enabled when some ``supported_objects`` string contains the selection's type, with an
    ``s`` added when several objects are selected ("plate", "plates", "screen")."""
    return any(selected in s for s in supported)


def test_open_with_names_the_app_for_plates_and_screens(deployed: dict[str, Any]) -> None:
    options = {o["id"]: o for o in deployed["full"]["open_with"]}
    assert "Image viewer" in options, "append keeps OMERO.web's default viewer"
    ours = options["platequeue"]
    assert ours["url"] == APP_URL and ours["label"] == "Analyse with platequeue"
    for selected in ("plate", "plates", "screen", "screens"):
        assert _enabled(ours["supported_objects"], selected), selected
    for selected in ("image", "images", "dataset", "project", "acquisition", "well"):
        assert not _enabled(ours["supported_objects"], selected), selected


def test_the_view_is_behind_omero_web_sign_in(deployed: dict[str, Any]) -> None:
    anonymous = deployed["full"]["anonymous"]
    assert anonymous["status"] == 302
    location = urlsplit(anonymous["location"])
    assert location.path == deployed["full"]["login_url"]
    assert parse_qs(location.query)["url"] == [f"{APP_URL}?plate=1"]


def _handover(answer: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    assert answer["status"] == 302, answer
    assert answer["cache_control"] == "no-store"
    assert answer["referrer_policy"] == "no-referrer"
    parts = urlsplit(answer["location"])
    pairs = [(k, v) for k, _, v in (p.partition("=") for p in parts.query.split("&"))]
    return f"{parts.scheme}://{parts.netloc}{parts.path}", pairs


def test_the_view_hands_plates_and_screens_over(deployed: dict[str, Any]) -> None:
    answers = deployed["full"]["requests"]
    submit = "https://pq.example.org/platequeue/submit"
    key = ("bsession", KEY)
    assert _handover(answers["plate"]) == (submit, [("plate", "51"), key])
    assert _handover(answers["plates"]) == (submit, [("plate", "7"), ("plate", "3"), key])
    assert _handover(answers["screen"]) == (submit, [("screen", "2"), key])
    assert _handover(answers["mixed"]) == (submit, [("plate", "4"), ("screen", "5"), key])


def test_bad_or_missing_ids_are_a_400_page(deployed: dict[str, Any]) -> None:
    answers = deployed["full"]["requests"]
    for name, says in (("bad", "not a plate id: &#x27;51&lt;b&gt;&#x27;"),
                       ("none", "choose a plate or a screen to analyse")):
        answer = answers[name]
        assert answer["status"] == 400 and answer["location"] is None
        assert answer["content_type"].startswith("text/html")
        assert '<h1 id="pq-title">Nothing to analyse</h1>' in answer["body"]
        assert says in answer["body"]


def test_without_the_url_setting_an_error_page_says_how_to_set_it(
        deployed: dict[str, Any]) -> None:
    for answer in deployed["unset"]["requests"].values():
        assert answer["status"] == 503 and answer["location"] is None
        body = answer["body"]
        assert '<h1 id="pq-title">platequeue is not configured</h1>' in body
        assert "omero.web.platequeue.url is not set" in body
        assert "omero config set omero.web.platequeue.url" in body


# -- end to end: the handover lands in platequeue, signed in ------------------------------

def _plate_and_screen(s: SignIn) -> tuple[int, int]:
    demo_user = s.platform.catalog.find_user("demo")
    assert demo_user is not None
    plates = s.platform.catalog.plates_for_user(demo_user.id)
    demo = next(p for p in plates if p.screen_id is not None)
    assert demo.screen_id is not None
    return demo.id, demo.screen_id


def _land(s: SignIn, location: str) -> tuple[Any, str]:
    """Follow the handover in platequeue: the bsession link, then where it redirects."""
    parts = urlsplit(location)
    assert parts.netloc == "localhost", location  # the Flask test client's host
    first = s.client.get(f"{parts.path}?{parts.query}")
    return first, first.headers.get("Location", "")


@pytest.mark.parametrize("kind", ["plate", "screen"])
def test_the_handover_lands_signed_in_on_the_submit_form(
        signin: SignIn, deployed: dict[str, Any], tmp_path: Path, kind: str) -> None:
    plate, screen = _plate_and_screen(signin)
    key = _omero_session(signin, "demo")  # a live session in OMERO's catalog
    omerodir = _omero_web(tmp_path / "omero-web", deployed["redis_url"], ADD_APP,
                          ADD_OPEN_WITH, SET_URL.replace("https://platequeue.example.org",
                                                         "http://localhost"))
    asked = {"plate": plate, "screen": screen}[kind]
    answer = _probe(omerodir, key, {"go": [[kind, str(asked)]]})["requests"]["go"]
    assert answer["status"] == 302
    assert answer["location"] == f"http://localhost/submit?{kind}={asked}&bsession={key}"
    assert _me(signin) is None  # nobody signed in before
    first, target = _land(signin, answer["location"])
    assert first.status_code == 303 and first.headers["Cache-Control"] == "no-store"
    assert target == f"/submit?{kind}={asked}" and key not in target  # the key is gone
    page = signin.client.get(target)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="form-errors"' not in html
    assert CHECKED.findall(html) == [str(plate)]  # the plate (of the screen) preselected
    assert _me(signin) == "demo"  # signed in as the OMERO session's owner


def test_a_handover_with_an_unknown_key_is_refused(signin: SignIn) -> None:
    plate, _screen = _plate_and_screen(signin)
    from omero_platequeue.handover import Selection, handover_url

    url = handover_url("http://localhost", Selection(plates=(plate,)), str(uuid.uuid4()))
    first, _target = _land(signin, url)
    assert first.status_code == 401
    assert _me(signin) is None
