"""Pixel-file writers for the fixture: one per storage kind OMERO knows.

Each writer gets the image and pixels rows of every image the fixture creates,
writes the pixels where OMERO would keep them and fills the columns (and extra
rows: fileset, originalfile, externalinfo) that point at them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from platequeue.omero.writers import write_romio

if TYPE_CHECKING:
    from platequeue.omero.fixture import FixtureBuilder

logger = logging.getLogger(__name__)

Rows = dict[str, list[dict[str, Any]]]


class PixelsWriter(Protocol):
    def add(self, rows_out: Rows, image_row: dict[str, Any], pixels_row: dict[str, Any],
            data: np.ndarray, pixels_type: str) -> None: ...

    def finish(self, rows_out: Rows, det: dict[str, Any]) -> None: ...


class RomioWriter:
    """Writes each image to ``Pixels/<id>``; images have no fileset (path/name/repo NULL)."""

    def __init__(self, builder: FixtureBuilder) -> None:
        self.root = builder.data_dir

    def add(self, rows_out: Rows, image_row: dict[str, Any], pixels_row: dict[str, Any],
            data: np.ndarray, pixels_type: str) -> None:
        write_romio(self.root, pixels_row["id"], data, pixels_type)

    def finish(self, rows_out: Rows, det: dict[str, Any]) -> None:
        return None


def writer_for(backend: str, builder: FixtureBuilder) -> PixelsWriter:
    """The writer for *backend* (``"romio"``)."""
    if backend == "romio":
        return RomioWriter(builder)
    raise ValueError(f"unknown pixels backend {backend!r}")
