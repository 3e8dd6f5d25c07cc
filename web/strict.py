"""Request parsing that turns hostile input into a 4xx: bounded ids in URLs, bounded JSON.

* :class:`Int64Converter` replaces Flask's ``int`` converter: an id above ``2**63 - 1``
  (no PostgreSQL bigint holds it) matches no route, so it is a 404 rather than a database
  error.
* :class:`StrictJSONProvider` refuses JSON nested deeper than ``MAX_JSON_DEPTH`` (and
  JSON the parser itself cannot nest) as malformed, so ``get_json`` answers 400 or, with
  ``silent=True``, None — never a ``RecursionError``.
"""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**63 - 1
MAX_JSON_DEPTH = 32


class Int64Converter(IntegerConverter):
    """``<int:…>`` limited to 1 … 2**63 - 1 unless a route says otherwise."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (scalars 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
            deepest = max(deepest, depth + 1)
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
            deepest = max(deepest, depth + 1)
    return deepest


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with a depth limit on what requests send."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if json_depth(value) > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return value
