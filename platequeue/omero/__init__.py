"""OMERO, read side and write side: the metadata catalog (SQL on OMERO's database),
permissions, pixel readers for every storage kind, OMERO.web sessions, keep-alive of
users' sessions, and writing results back with omero-py (the optional ``omero`` extra).

Callers pass engines, paths and clients; nothing here reads settings except the session
keep-alive. FS-imported images are read through Bio-Formats (JPype, the optional
``bioformats`` extra; :mod:`platequeue.omero._bioformats`). ``scan`` is the operator's
``platequeue sources`` report. Demo fixtures live in :mod:`platequeue.demo`; see
``docs/architecture.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from platequeue.omero import _keepalive as keepalive
from platequeue.omero import _websession as websession
from platequeue.omero._acquisitions import Acquisition, acquisitions, physical_size
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
from platequeue.omero._bioformats import (
    BioFormatsConfig,
    BioFormatsSource,
    ShapeMismatch,
    bf_available,
    bioformats_config,
)
from platequeue.omero._confirm import can_read_plate_via_session
from platequeue.omero._filesets import fileset_files
from platequeue.omero._jvm import BioFormatsUnavailable, ensure_jvm
from platequeue.omero._jvm import forbid_here as forbid_jvm_here
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
from platequeue.omero._originals import check_inside
from platequeue.omero._permissions import (
    GROUP_LEVELS,
    admin_sql,
    can_read,
    is_admin,
    perm_string,
    readable_sql,
)
from platequeue.omero._repo import (
    NULL_PLANE_PATTERN,
    PIXEL_DTYPES,
    CorruptPixelsError,
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
from platequeue.omero._roots import AllowedRoots, OutsideRootsError
from platequeue.omero._writeback import omero_available, write_back

__all__ = [
    "GROUP_LEVELS",
    "NGFF_ENTITY_TYPE",
    "NS_BULK",
    "NS_MAP",
    "NULL_PLANE_PATTERN",
    "PIXEL_DTYPES",
    "PYRAMID_DESCRIPTION",
    "Acquisition",
    "AllowedRoots",
    "BioFormatsConfig",
    "BioFormatsSource",
    "BioFormatsUnavailable",
    "ColumnSpec",
    "CorruptPixelsError",
    "Experimenter",
    "FieldRef",
    "MaskSpec",
    "OmeroCatalog",
    "OmeroNotFoundError",
    "OmeroUnreachable",
    "OutsideRootsError",
    "PixelsFileError",
    "PixelsInfo",
    "PlateInfo",
    "RepositoryReader",
    "ShapeMismatch",
    "Source",
    "UnsafePathError",
    "UnwrittenPlaneError",
    "WellRef",
    "acquisitions",
    "admin_sql",
    "bf_available",
    "bioformats_config",
    "can_read",
    "can_read_plate_via_session",
    "check_inside",
    "csv_bytes",
    "decode_mask",
    "encode_mask",
    "ensure_jvm",
    "fileset_files",
    "forbid_jvm_here",
    "is_admin",
    "keepalive",
    "masks_from_labels",
    "nested_relpath",
    "omero_available",
    "open_field",
    "perm_string",
    "physical_size",
    "pixel_dtype",
    "plate_problem",
    "read_field",
    "read_field_native",
    "read_plane",
    "readable_sql",
    "repository_roots",
    "romio_path",
    "romio_relpath",
    "safe_path",
    "scan",
    "table_columns",
    "websession",
    "well_key_values",
    "well_label",
    "write_back",
]

# The pixel readers (tifffile, zarr, imagecodecs) load on first use (PEP 562), so a process
# that needs only the catalog or the web sessions (the web app) never imports them.
_LAZY = {"RepositoryReader": "_readers", "Source": "_readers", "open_field": "_readers",
         "repository_roots": "_readers", "plate_problem": "_scan", "scan": "_scan",
         "PYRAMID_DESCRIPTION": "_tiffs"}

if TYPE_CHECKING:
    from platequeue.omero import _scan as scan
    from platequeue.omero._readers import RepositoryReader, Source, open_field, repository_roots
    from platequeue.omero._scan import plate_problem
    from platequeue.omero._tiffs import PYRAMID_DESCRIPTION


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded = import_module(f"{__name__}.{module}")
    value = loaded if name == "scan" else getattr(loaded, name)
    globals()[name] = value
    return value
