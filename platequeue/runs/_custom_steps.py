"""Custom steps: a trusted developer's own step function, run on each field of a run.

Off unless ``CUSTOM_STEPS=true``. A user with the ``developer`` role uploads a function
serialised with dill (:meth:`platequeue.client.Client.upload_step`); :func:`store` keeps the
bytes in the audit store with their SHA-256 and an HMAC-SHA256 over (sha256, owner id) keyed
by ``SECRET_KEY``. A run naming the artifact goes to the ``custom`` queue, which only a
worker started with ``-Q custom`` takes; the broker still carries the well-task id alone,
as JSON.

Security: unpickling runs arbitrary code. :func:`load_verified` is the ONE place in the
platform that unpickles, and only bytes the platform itself stored and signed on behalf of
an authenticated developer: it recomputes the hash and the HMAC (``hmac.compare_digest``)
and refuses, naming the artifact, before ``dill.loads`` sees a byte that does not match.
A developer's code runs with the worker's rights: grant the role only to people you would
give a shell on the worker hosts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from platequeue.errors import Conflict, Forbidden, Invalid, NotFound
from platequeue.platform import Platform
from platequeue.store import Role, StepArtifact, User, audit, session_scope

log = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
PREFIX = "custom."
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
OFF = "custom steps are off on this deployment (CUSTOM_STEPS=false)"


class ArtifactRefused(ValueError):
    """A worker will not run the artifact (tampered, unknown, or the feature is off).
    A ``ValueError``, so the well fails at once instead of retrying."""


def check_enabled(platform: Platform) -> None:
    if not platform.settings.custom_steps:
        raise Conflict(OFF)


def _check_developer(user: User) -> None:
    if user.role != Role.DEVELOPER.value:
        raise Forbidden(f"custom steps need the developer role; {user.omename!r} is "
                        f"{user.role}")


def _sign(secret_key: str, sha256: str, owner_id: int) -> str:
    msg = f"platequeue-step-artifact:{sha256}:{owner_id}".encode()
    return hmac.new(secret_key.encode(), msg, hashlib.sha256).hexdigest()


def store(platform: Platform, user: User, name: str, payload: bytes) -> StepArtifact:
    """Keep a developer's serialised step; returns the (detached) artifact row.

    Nothing is unpickled here: the web process only hashes and signs the bytes.
    """
    check_enabled(platform)
    _check_developer(user)
    if not _NAME.match(name):
        raise Invalid(f"step name {name!r} must be a letter then up to 63 letters, digits "
                      "or underscores")
    if not payload:
        raise Invalid("the step payload is empty")
    if len(payload) > MAX_BYTES:
        raise Invalid(f"the step payload is {len(payload)} bytes; at most {MAX_BYTES}")
    sha = hashlib.sha256(payload).hexdigest()
    with session_scope(platform.audit) as s:
        art = StepArtifact(owner_id=user.id, name=name, sha256=sha, payload=payload,
                           signature=_sign(platform.settings.secret_key, sha, user.id))
        s.add(art)
        s.flush()
        audit(s, user.omename, "step-upload", None, artifact=art.id, name=name, sha256=sha,
              size=len(payload))
        s.expunge(art)
    return art


def check_usable(platform: Platform, user: User, artifact_id: int) -> str:
    """Submit-time checks: feature on, developer, the artifact is the submitter's own.
    Returns the artifact's name."""
    check_enabled(platform)
    _check_developer(user)
    with session_scope(platform.audit) as s:
        row = s.execute(select(StepArtifact.owner_id, StepArtifact.name)
                        .where(StepArtifact.id == artifact_id)).first()
    if row is None or row.owner_id != user.id:
        raise NotFound(f"no custom step artifact {artifact_id} of yours")
    return str(row.name)


def load_verified(platform: Platform, artifact_id: int) -> tuple[str, Callable[..., Any]]:
    """The artifact's name and function, after its hash and signature check out.

    Raises :class:`ArtifactRefused` naming the artifact when the feature is off, the row is
    gone, or the bytes, hash or signature do not match; nothing is unpickled then.
    """
    if not platform.settings.custom_steps:
        raise ArtifactRefused(f"custom step artifact {artifact_id} refused: {OFF}")
    with session_scope(platform.audit) as s:
        art = s.get(StepArtifact, artifact_id)
        if art is None:
            raise ArtifactRefused(f"custom step artifact {artifact_id} no longer exists")
        payload, sha, sig, owner, name = (bytes(art.payload), art.sha256, art.signature,
                                          art.owner_id, art.name)
    actual = hashlib.sha256(payload).hexdigest()
    expected = _sign(platform.settings.secret_key, actual, owner)
    if not (hmac.compare_digest(actual, sha) and hmac.compare_digest(expected, sig)):
        log.error("custom step artifact %d (%s): hash or signature mismatch; refused",
                  artifact_id, name)
        raise ArtifactRefused(f"custom step artifact {artifact_id} ({name!r}) refused: its "
                              "hash or signature does not match what the platform stored")
    import dill  # the one unpickling in the platform, of verified bytes only

    func = dill.loads(payload)
    if not callable(func):
        raise ArtifactRefused(f"custom step artifact {artifact_id} ({name!r}) is not callable")
    return name, func


def features(name: str, result: Any) -> dict[str, float]:
    """A custom step's result (a mapping of feature name to number) as measurements
    ``custom.<name>.<feature>``; a plain number is ``custom.<name>``."""
    if isinstance(result, int | float) and not isinstance(result, bool):
        return {f"{PREFIX}{name}": float(result)}
    if not isinstance(result, Mapping):
        raise TypeError(f"custom step {name!r} returned {type(result).__name__}; return a "
                        "dict of feature name to number")
    out = {}
    for key, value in result.items():
        if not isinstance(key, str) or not key or len(key) > 60:
            raise TypeError(f"custom step {name!r}: feature names must be 1 to 60 characters")
        out[f"{PREFIX}{name}.{key}"] = float(value)
    return out
