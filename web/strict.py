"""Request parsing that turns hostile input into a 4xx: bounded ids in URLs, bounded JSON.

* :class:`Int64Converter` replaces Flask's ``int`` converter: an id above ``2**63 - 1``
  (no PostgreSQL bigint holds it) matches no route, so it is a 404 rather than a database
  error.
* :class:`StrictJSONProvider` refuses JSON nested deeper than ``MAX_JSON_DEPTH`` (and
  JSON the parser itself cannot nest) or holding a NUL character as malformed, so
  ``get_json`` answers 400 or, with ``silent=True``, None — never a ``RecursionError``.
* :func:`refuse_nul` (a ``before_request`` hook): a NUL character in the path, the query or
  a form field is refused (422); PostgreSQL text cannot hold one, so it would otherwise
  reach the database as an error.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter, Map

from platequeue.errors import Invalid

MAX_ID = 2**63 - 1  # OMERO ids are PostgreSQL bigint: a larger number names nothing
MAX_JSON_DEPTH = 32


class Int64Converter(IntegerConverter):
    """``<int:…>`` limited to 1 … 2**63 - 1 unless a route says otherwise."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


NUL = "\x00"


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (scalars 0), without recursion; -1 when a
    string (key or value) holds a NUL character."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if any(NUL in k for k in item):
                return -1
            stack.extend((v, depth + 1) for v in item.values())
            deepest = max(deepest, depth + 1)
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
            deepest = max(deepest, depth + 1)
        elif isinstance(item, str) and NUL in item:
            return -1
    return deepest


def refuse_nul() -> None:
    """422 for a NUL character anywhere in the path, the query string or a form field."""
    if NUL in request.path or any(NUL in k or NUL in v
                                  for k, v in request.args.items(multi=True)):
        raise Invalid("NUL characters are not allowed in requests")
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data") and any(
            NUL in k or NUL in v for k, v in request.form.items(multi=True)):
        raise Invalid("NUL characters are not allowed in form fields")


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with a depth limit on what requests send."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        depth = json_depth(value)
        if depth < 0:
            raise ValueError("JSON strings may not hold NUL characters")
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return value
