"""Where a sign-in may send the browser next, and keeping session keys out of URLs and logs.

:func:`safe_next` accepts a ``next`` value only as a path on this site *after* the
normalisation browsers apply to a ``Location`` (the WHATWG URL parser): leading and trailing
C0 controls and spaces dropped, tabs and newlines removed anywhere, backslashes read as
slashes. ``/%09/evil.example/`` arrives as ``/<TAB>/evil.example/``, which a browser reads
as ``//evil.example/`` (another host): refused. Anything left with a control character, a
scheme, a host, or a leading ``//`` is refused too.

:func:`redact` masks OMERO session keys (``bsession=…``, the ``X-OMERO-Session-Key``
header) in log text; :class:`RedactFilter` applies it to log records (our loggers,
werkzeug's request log) and :mod:`web.gunicorn_logging` to gunicorn's access log.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

_STRIPPED = "".join(chr(c) for c in range(0x21))  # C0 controls and space
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NEXT = 2048

SECRET_PARAM = "bsession"
_SECRET = re.compile(r"(?i)(bsession(?:=|%3D)|x-omero-session-key[\"']?\s*[:=]\s*[\"']?)"
                     r"[^&\s\"';,]+")
MASK = "[redacted]"


def safe_next(value: Any) -> str | None:
    """A same-origin path to redirect to, normalised as a browser would; None if unsafe."""
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT:
        return None
    cleaned = _TAB_NEWLINE.sub("", value.strip(_STRIPPED)).replace("\\", "/")
    if _CONTROL.search(cleaned) or not cleaned.startswith("/") or cleaned.startswith("//"):
        return None
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return None
    return cleaned


def without_param(path: str, args: Any, name: str = SECRET_PARAM) -> str:
    """*path* with the query *args* (a werkzeug MultiDict) minus *name*."""
    kept = [(k, v) for k, v in args.items(multi=True) if k != name]
    return path + ("?" + urlencode(kept) if kept else "")


def redact(text: str) -> str:
    """*text* with OMERO session keys masked."""
    return _SECRET.sub(lambda m: m.group(1) + MASK, text)


class RedactFilter(logging.Filter):
    """Masks session keys in a record's message (formatted once, arguments dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_redaction(*names: str) -> None:
    """Add :class:`RedactFilter` to the named loggers (root: ``""``) and root's handlers."""
    for name in names or ("", "werkzeug", "gunicorn.access", "gunicorn.error"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactFilter) for f in target.filters):
            target.addFilter(RedactFilter())
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(RedactFilter())
