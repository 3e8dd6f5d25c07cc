"""Domain errors. Each carries the HTTP status the JSON API answers with."""

from __future__ import annotations


class PlatequeueError(Exception):
    """Base class: a refusal the user can act on; ``str()`` is the message shown."""

    status = 400


class NotFound(PlatequeueError):
    status = 404


class Forbidden(PlatequeueError):
    status = 403


class Invalid(PlatequeueError):
    status = 422


class Conflict(PlatequeueError):
    status = 409


class Unavailable(PlatequeueError):
    status = 503


class NotInstalled(Unavailable):
    """A component this needs is not installed (an extra); the message says which."""
