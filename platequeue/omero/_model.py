"""Typed, frozen value objects describing what the platform reads from OMERO.

They carry plain ids and strings only, so they pickle and JSON-encode cheaply
and can cross the Celery boundary (``dataclasses.asdict``).
"""

from __future__ import annotations

from dataclasses import dataclass

NGFF_ENTITY_TYPE = "com.glencoesoftware.ngff:multiscales"
"""``externalinfo.entitytype`` of an image whose pixels are an OME-Zarr (NGFF) fileset."""


@dataclass(frozen=True, slots=True)
class Experimenter:
    """An OMERO user (``experimenter`` row); ``is_admin``: member of group ``system``."""

    id: int
    omename: str
    email: str | None
    is_admin: bool


@dataclass(frozen=True, slots=True)
class PlateInfo:
    """A plate with its geometry and channel names.

    ``wells`` counts the wells present in the database (a plate may lack some);
    ``fields`` is the largest number of fields (well samples) in any well.
    """

    id: int
    name: str
    rows: int
    columns: int
    wells: int
    fields: int
    channels: tuple[str, ...]
    screen_id: int | None
    screen_name: str | None
    group_id: int
    owner_id: int


@dataclass(frozen=True, slots=True)
class FieldRef:
    """One field of view of a well: ``field`` is ``wellsample.well_index`` (0-based)."""

    well_id: int
    field: int
    image_id: int
    pixels_id: int
    acquisition_id: int | None = None


@dataclass(frozen=True, slots=True)
class WellRef:
    """A well (0-based ``row``/``column``) with its label ("A1", "P24") and fields."""

    id: int
    plate_id: int
    row: int
    column: int
    label: str
    fields: tuple[FieldRef, ...]


@dataclass(frozen=True, slots=True)
class PixelsInfo:
    """Everything needed to locate and decode an image's pixels on disk.

    ``pixels_type`` is the ``pixelstype.value`` string (``"uint16"``, ``"float"``);
    ``path``/``name``/``repo`` are ``pixels.path``/``name``/``repo`` (the file
    Bio-Formats opens, ``None`` for images without a managed file); ``series`` is
    ``image.series``; ``ngff_path`` the ``externalinfo.lsid`` of an OME-Zarr image.
    """

    id: int
    image_id: int
    image_name: str
    size_x: int
    size_y: int
    size_z: int
    size_c: int
    size_t: int
    pixels_type: str
    dimension_order: str
    path: str | None
    name: str | None
    repo: str | None
    series: int
    fileset_id: int | None
    ngff_path: str | None
    group_id: int = -1
    owner_id: int = -1
