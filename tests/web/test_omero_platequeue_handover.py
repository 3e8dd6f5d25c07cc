"""The OMERO.web app's handover URL (``contrib/omero-platequeue``): the pure functions,
which need neither Django nor OMERO (only the app installed)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

handover = pytest.importorskip(
    "omero_platequeue.handover",
    reason="needs the OMERO.web app (pip install -e contrib/omero-platequeue)")

KEY = "0b8e7e63-3f2c-4d8e-9d39-5a0c1f9e6a11"


def test_a_plate_goes_to_the_submit_form_with_the_session_key() -> None:
    sel = handover.parse_selection({"plate": ["51"]})
    assert sel == handover.Selection(plates=(51,), screens=())
    url = handover.handover_url("https://pq.example.org/", sel, KEY)
    assert url == f"https://pq.example.org/submit?plate=51&bsession={KEY}"


def test_several_plates_and_screens_keep_their_order_without_repeats() -> None:
    sel = handover.parse_selection({"plate": ["7", "3", "7"], "screen": ["2"],
                                    "image": ["9"], "url": ["/x"]})  # others ignored
    assert sel.plates == (7, 3) and sel.screens == (2,)
    url = handover.handover_url("http://host:8080/platequeue", sel, KEY)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "host:8080",
                                                        "/platequeue/submit")
    assert parse_qsl(parts.query) == [("plate", "7"), ("plate", "3"), ("screen", "2"),
                                      ("bsession", KEY)]


def test_a_screen_alone() -> None:
    url = handover.handover_url("https://pq.example.org",
                                handover.parse_selection({"screen": ["3"]}), KEY)
    assert url == f"https://pq.example.org/submit?screen=3&bsession={KEY}"


def test_the_key_is_encoded_not_spliced() -> None:
    url = handover.handover_url("https://pq.example.org",
                                handover.Selection(plates=(1,)), "a&plate=2 #")
    assert parse_qsl(urlsplit(url).query) == [("plate", "1"), ("bsession", "a&plate=2 #")]
    with pytest.raises(ValueError, match="session key"):
        handover.handover_url("https://pq.example.org", handover.Selection(plates=(1,)), "")


@pytest.mark.parametrize("query", [{}, {"image": ["1"]}, {"plate": []},
                                   {"plate": ["x"]}, {"plate": ["0"]}, {"plate": ["-1"]},
                                   {"plate": ["1.5"]}, {"plate": ["²"]}, {"screen": [" 3"]},
                                   {"plate": [str(2**63)]}, {"plate": ["1"], "screen": ["a"]}])
def test_no_or_bad_ids_are_refused(query: dict[str, list[str]]) -> None:
    with pytest.raises(handover.InvalidSelection):
        handover.parse_selection(query)


@pytest.mark.parametrize("base", ["", "  ", "pq.example.org", "ftp://pq.example.org",
                                  "https://", "https://pq.example.org/?a=1",
                                  "https://pq.example.org/#top", "https://u:p@pq.example.org",
                                  "javascript:alert(1)"])
def test_a_missing_or_odd_base_url_is_refused(base: str) -> None:
    with pytest.raises(handover.InvalidBaseUrl, match=r"omero\.web\.platequeue\.url"):
        handover.check_base_url(base)
