"""Confirm a read permission with the user's own OMERO session (where ``OMERO_HOST`` is set).

The platform decides who may read what from OMERO's database
(:mod:`platequeue.omero._permissions`); with a server configured it can also ask OMERO
itself, on the user's session, whether a plate is visible. omero-py is imported lazily
(optional ``omero`` extra).
"""

from __future__ import annotations

from platequeue.omero._omero_calls import connect  # omero-py imported lazily


def can_read_plate_via_session(host: str, port: int, session_key: str, plate_id: int) -> bool:
    """Whether the session *session_key* can load plate *plate_id* in any of its groups.

    Returns False when the plate is not visible or the server rejects the key.

    Raises
    ------
    platequeue.omero._omero_calls.OmeroUnreachable
        The server cannot be reached: nothing is confirmed either way.
    """
    try:
        conn = connect(host, port, session_key)
    except PermissionError:
        return False
    try:
        conn.SERVICE_OPTS.setOmeroGroup(-1)  # all the user's groups
        return conn.getObject("Plate", int(plate_id)) is not None
    finally:
        conn.close(hard=False)  # detach only: the session is the user's
