"""Gunicorn's logger with OMERO session keys masked in every access-log atom.

A ``bsession=<key>`` link is redirected away at once (:mod:`web.auth`), but the first
request line still names the key; gunicorn would write it verbatim (``%(r)s``, ``%(q)s``,
the ``Referer``, ``X-OMERO-Session-Key`` via ``%({x-omero-session-key}i)s``). Use with
``--logger-class web.gunicorn_logging.RedactingLogger`` (``platequeue web`` and
``templates/gunicorn.conf.py`` do).
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from web.redirects import MASK, redact

_SECRET_HEADERS = ("{x-omero-session-key}i", "{http_x_omero_session_key}e", "{authorization}i",
                   "{http_authorization}e", "{cookie}i", "{http_cookie}e")


class RedactingLogger(Logger):
    """:class:`gunicorn.glogging.Logger` whose access-log atoms carry no session keys."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        found: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key, value in found.items():
            if key in _SECRET_HEADERS:
                found[key] = MASK
            elif isinstance(value, str):
                found[key] = redact(value)
        return found
