"""OMERO, read side and write side: the metadata catalog (SQL on OMERO's database),
permissions, pixel readers for every storage kind, OMERO.web sessions, keep-alive of
users' sessions, and writing results back with omero-py (the optional ``omero`` extra).

Callers pass engines, paths and clients; nothing here reads settings except the session
keep-alive. Demo fixtures live in :mod:`platequeue.demo`; see ``docs/architecture.md``.
"""

from __future__ import annotations

from platequeue.omero import _keepalive as keepalive
from platequeue.omero import _websession as websession
from platequeue.omero._annotations import (
    NS_BULK,
    NS_MAP,
    ColumnSpec,
    MaskSpec,
    csv_bytes,
    decode_mask,
    encode_mask,
    masks_from_labels,
    table_columns,
    well_key_values,
)
from platequeue.omero._confirm import can_read_plate_via_session
from platequeue.omero._metadata import OmeroCatalog, OmeroNotFoundError, well_label
from platequeue.omero._model import (
    NGFF_ENTITY_TYPE,
    Experimenter,
    FieldRef,
    PixelsInfo,
    PlateInfo,
    WellRef,
)
from platequeue.omero._omero_calls import OmeroUnreachable
from platequeue.omero._permissions import (
    GROUP_LEVELS,
    admin_sql,
    can_read,
    is_admin,
    perm_string,
    readable_sql,
)
from platequeue.omero._readers import (
    CorruptPixelsError,
    RepositoryReader,
    Source,
    open_field,
    repository_roots,
)
from platequeue.omero._repo import (
    NULL_PLANE_PATTERN,
    PIXEL_DTYPES,
    PixelsFileError,
    UnsafePathError,
    UnwrittenPlaneError,
    nested_relpath,
    pixel_dtype,
    read_field,
    read_field_native,
    read_plane,
    romio_path,
    romio_relpath,
    safe_path,
)
from platequeue.omero._writeback import omero_available, write_back

__all__ = [
    "GROUP_LEVELS",
    "NGFF_ENTITY_TYPE",
    "NS_BULK",
    "NS_MAP",
    "NULL_PLANE_PATTERN",
    "PIXEL_DTYPES",
    "ColumnSpec",
    "CorruptPixelsError",
    "Experimenter",
    "FieldRef",
    "MaskSpec",
    "OmeroCatalog",
    "OmeroNotFoundError",
    "OmeroUnreachable",
    "PixelsFileError",
    "PixelsInfo",
    "PlateInfo",
    "RepositoryReader",
    "Source",
    "UnsafePathError",
    "UnwrittenPlaneError",
    "WellRef",
    "admin_sql",
    "can_read",
    "can_read_plate_via_session",
    "csv_bytes",
    "decode_mask",
    "encode_mask",
    "is_admin",
    "keepalive",
    "masks_from_labels",
    "nested_relpath",
    "omero_available",
    "open_field",
    "perm_string",
    "pixel_dtype",
    "read_field",
    "read_field_native",
    "read_plane",
    "readable_sql",
    "repository_roots",
    "romio_path",
    "romio_relpath",
    "safe_path",
    "table_columns",
    "websession",
    "well_key_values",
    "well_label",
    "write_back",
]
