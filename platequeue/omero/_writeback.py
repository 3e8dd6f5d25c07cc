"""Write results back to OMERO on the user's session (the optional ``omero`` extra).

:func:`write_back` builds the pure parts (:mod:`platequeue.omero._annotations`) and hands
them to the omero-py calls (:mod:`platequeue.omero._omero_calls`, which import omero-py
inside each function).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from platequeue.omero._annotations import MaskSpec, csv_bytes, table_columns, well_key_values
from platequeue.omero._omero_calls import write_back_with_gateway  # omero-py imported lazily


def omero_available() -> bool:
    """Whether omero-py (the optional ``omero`` extra) can be imported."""
    try:
        import omero.gateway  # noqa: F401
    except ImportError:
        return False
    return True


def write_back(
    host: str, port: int, session_key: str, plate_id: int, rows: Sequence[Mapping[str, Any]],
    *, name: str, well_masks: Mapping[int, Sequence[MaskSpec]] | None = None,
) -> dict[str, int]:
    """Write *rows* to OMERO on the user's session; returns created object ids.

    Annotations on the plate from an earlier run with the same *name* prefix
    are replaced.  Requires omero-py; never closes the user's session.
    """
    return write_back_with_gateway(host, port, session_key, plate_id, rows, name=name,
                                   columns=table_columns(rows), csv=csv_bytes(rows),
                                   kv=well_key_values(rows), well_masks=well_masks or {})
