"""Where "Analyse with platequeue" sends the browser: pure functions (no Django, no OMERO).

OMERO.web's "Open with" adds the selected objects to the app's URL as
``?plate=1&plate=2`` or ``?screen=3`` (one ``type=id`` pair per selected object).
:func:`parse_selection` reads the plates and screens from those values,
:func:`check_base_url` the configured platequeue address, and :func:`handover_url` builds
``<platequeue>/submit?plate=1&plate=2&screen=3&bsession=<OMERO session key>``. platequeue
checks the key against OMERO's sessions, signs the browser in as its owner and redirects at
once to the same address without the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

__all__ = [
    "KINDS",
    "InvalidBaseUrl",
    "InvalidSelection",
    "Selection",
    "check_base_url",
    "handover_url",
    "parse_selection",
]

KINDS = ("plate", "screen")  # the query parameters read, as OMERO.web names the objects
MAX_ID = 2**63 - 1  # OMERO ids are 64-bit


class InvalidSelection(ValueError):
    """The request names no plate or screen, or an id that is not one."""


class InvalidBaseUrl(ValueError):
    """``omero.web.platequeue.url`` is unset or not an absolute http(s) URL."""


@dataclass(frozen=True)
class Selection:
    plates: tuple[int, ...] = ()
    screens: tuple[int, ...] = ()


def _id(kind: str, value: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= MAX_ID:
        raise InvalidSelection(f"not a {kind} id: {value[:40]!r}")
    return int(value)


def parse_selection(query: Mapping[str, Sequence[str]]) -> Selection:
    """The plates and screens named in *query* (each parameter's list of values), in the
    order given, without repeats; raises :class:`InvalidSelection` for a bad id or when
    there is neither. Other parameters are ignored."""
    found: dict[str, list[int]] = {}
    for kind in KINDS:
        ids: list[int] = []
        for value in query.get(kind, ()):
            n = _id(kind, value)
            if n not in ids:
                ids.append(n)
        found[kind] = ids
    if not found["plate"] and not found["screen"]:
        raise InvalidSelection("choose a plate or a screen to analyse")
    return Selection(tuple(found["plate"]), tuple(found["screen"]))


def check_base_url(url: str) -> str:
    """The configured platequeue address without a trailing slash; raises
    :class:`InvalidBaseUrl` unless it is an absolute http(s) URL without query or fragment."""
    url = (url or "").strip()
    if not url:
        raise InvalidBaseUrl("omero.web.platequeue.url is not set")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidBaseUrl(f"omero.web.platequeue.url is not an http(s) URL: {url!r}")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise InvalidBaseUrl(f"omero.web.platequeue.url must be a plain base URL "
                             f"(no query, fragment or user name): {url!r}")
    return url.rstrip("/")


def handover_url(base_url: str, selection: Selection, session_key: str) -> str:
    """platequeue's submit form for *selection*, signed in with *session_key*."""
    if not session_key:
        raise ValueError("an OMERO session key is needed to hand the sign-in over")
    pairs = [("plate", str(p)) for p in selection.plates]
    pairs += [("screen", str(s)) for s in selection.screens]
    pairs.append(("bsession", session_key))
    return f"{check_base_url(base_url)}/submit?{urlencode(pairs)}"
