"""Pixel-file writers for the fixture: one per storage kind OMERO knows.

Each writer gets the image and pixels rows of every image the fixture creates,
writes the pixels where OMERO would keep them and fills the columns (and extra
rows: fileset, originalfile, externalinfo) that point at them.

* ``romio``: ``Pixels/<id>`` (raw big-endian XYZCT), no fileset.
* ``pyramid``: ``Pixels/<id>_pyramid``, a tiled BigTIFF, one level-0 page per
  plane in XYZCT order, each with one half-resolution sub-IFD.
* ``ometiff``: one multi-series OME-TIFF per plate under
  ``ManagedRepository/<user>_<id>/<yyyy>-<mm>/<dd>/<hh>-<mm>-<ss>.<ms>/``, a
  fileset with one entry, ``image.series`` = series index and
  ``pixels.path/name/repo`` pointing at the file; the repository root is the
  ``originalfile`` row with ``mimetype='Repository'`` and ``hash=<repo uuid>``.
* ``zarr``: an OME-Zarr HCS plate (NGFF 0.4, zarr format 2) under ``ngff/``;
  each image carries ``externalinfo(entitytype='com.glencoesoftware.ngff:multiscales',
  lsid=<multiscales path relative to the data root>)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sized
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import tifffile
import zarr

from platequeue.demo._fsimport import FixtureBuilder as FsBuilder
from platequeue.demo._fsimport import FsImportWriter
from platequeue.demo._writers import write_romio
from platequeue.omero import NGFF_ENTITY_TYPE, pixel_dtype, romio_relpath

logger = logging.getLogger(__name__)

Rows = dict[str, list[dict[str, Any]]]


class FixtureBuilder(Protocol):
    """What a writer needs from :class:`platequeue.demo._builder.FixtureBuilder` (kept
    structural, so the builder imports the writers and never the other way round)."""

    data_dir: Path
    users: dict[str, int]

    @property
    def plates(self) -> Sized: ...

    def new_id(self, table: str) -> int: ...

    def managed_repository(self) -> tuple[str, str]: ...


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


class PyramidWriter(RomioWriter):
    """Writes ``Pixels/<id>_pyramid`` (tiled BigTIFF, level 0 plus one sub-resolution)."""

    def add(self, rows_out: Rows, image_row: dict[str, Any], pixels_row: dict[str, Any],
            data: np.ndarray, pixels_type: str) -> None:
        path = self.root / (romio_relpath(pixels_row["id"]) + "_pyramid")
        path.parent.mkdir(parents=True, exist_ok=True)
        planes = data.reshape(-1, *data.shape[-2:])
        with tifffile.TiffWriter(path, bigtiff=True) as tw:
            for plane in planes:
                tw.write(plane, tile=(64, 64), subifds=1, photometric="minisblack")
                tw.write(plane[::2, ::2], tile=(64, 64), subfiletype=1,
                         photometric="minisblack")


class OmeTiffWriter:
    """Collects a plate's images into one multi-series OME-TIFF in ManagedRepository."""

    def __init__(self, builder: FixtureBuilder) -> None:
        self.b = builder
        self.images: list[np.ndarray] = []
        self.pixels_rows: list[dict[str, Any]] = []
        self.image_rows: list[dict[str, Any]] = []

    def add(self, rows_out: Rows, image_row: dict[str, Any], pixels_row: dict[str, Any],
            data: np.ndarray, pixels_type: str) -> None:
        image_row["series"] = len(self.images)
        self.images.append(np.ascontiguousarray(data[0]))  # (C, Z, Y, X)
        self.image_rows.append(image_row)
        self.pixels_rows.append(pixels_row)

    def finish(self, rows_out: Rows, det: dict[str, Any]) -> None:
        repo_uuid, repo_name = self.b.managed_repository()
        owner = det["owner_id"]
        omename = next(k for k, v in self.b.users.items() if v == owner)
        prefix = f"{omename}_{owner}/2024-03/05/10-00-00.{len(self.b.plates):03d}/"
        fname = f"plate_{len(self.b.plates)}.ome.tiff"
        path = self.b.data_dir / repo_name / prefix / fname
        path.parent.mkdir(parents=True, exist_ok=True)
        with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tw:
            for img in self.images:
                tw.write(img, metadata={"axes": "CZYX"}, photometric="minisblack")
        fs, fe, of = (self.b.new_id(t) for t in ("fileset", "filesetentry", "originalfile"))
        rows_out["fileset"].append({"id": fs, "templateprefix": prefix, **det})
        rows_out["originalfile"].append({
            "id": of, "name": fname, "path": prefix, "repo": repo_uuid, "size": path.stat().st_size,
            "mimetype": "application/octet-stream", "hash": "", **det})
        rows_out["filesetentry"].append({"id": fe, "fileset": fs, "originalfile": of,
                                         "clientpath": f"/home/{omename}/{fname}",
                                         "fileset_index": 0, **det})
        for image_row, pixels_row in zip(self.image_rows, self.pixels_rows, strict=True):
            image_row["fileset"] = fs
            pixels_row.update(path=prefix, name=fname, repo=repo_uuid)


class ZarrWriter:
    """Writes an OME-Zarr HCS plate; images point at it through ``externalinfo``."""

    def __init__(self, builder: FixtureBuilder) -> None:
        self.b = builder
        self.rel = f"ngff/plate_{len(builder.plates)}.zarr"
        self.group = zarr.open_group(builder.data_dir / self.rel, mode="w", zarr_format=2)
        self.wells: dict[str, int] = {}

    def add(self, rows_out: Rows, image_row: dict[str, Any], pixels_row: dict[str, Any],
            data: np.ndarray, pixels_type: str) -> None:
        row, col = _split_label(image_row["name"].split()[0])
        field = self.wells.get(f"{row}/{col}", 0)
        self.wells[f"{row}/{col}"] = field + 1
        sub = f"{row}/{col}/{field}"
        img = self.group.require_group(sub)
        arr = img.create_array("0", shape=data.shape, chunks=(1, 1, 1, *data.shape[-2:]),
                               dtype=pixel_dtype(pixels_type))
        arr[...] = data
        axes = [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"}] + [
            {"name": n, "type": "space"} for n in "zyx"]
        img.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [
            {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0] * 5}]}]}]
        ext = self.b.new_id("externalinfo")
        det = {k: image_row[k] for k in ("permissions", "owner_id", "group_id", "creation_id")}
        rows_out["externalinfo"].append({"id": ext, "entityid": image_row["id"],
                                         "entitytype": NGFF_ENTITY_TYPE,
                                         "lsid": f"{self.rel}/{sub}", **det})
        image_row["external_id"] = ext

    def finish(self, rows_out: Rows, det: dict[str, Any]) -> None:
        self.group.attrs["plate"] = {"version": "0.4", "wells": [
            {"path": k} for k in sorted(self.wells)]}


def _split_label(label: str) -> tuple[str, str]:
    i = len(label.rstrip("0123456789"))
    return label[:i], label[i:]


def writer_for(backend: str, builder: FixtureBuilder) -> PixelsWriter:
    """The writer for *backend*: ``romio``, ``pyramid``, ``ometiff``, ``zarr``, or an
    FS-imported file set, ``companion`` or ``htd`` (:mod:`platequeue.demo._fsimport`)."""
    writers: dict[str, type[PixelsWriter]] = {
        "romio": RomioWriter, "pyramid": PyramidWriter, "ometiff": OmeTiffWriter,
        "zarr": ZarrWriter}
    if backend in ("companion", "htd"):  # FS-imported file sets, read by Bio-Formats
        return FsImportWriter(cast("FsBuilder", builder), backend)
    if backend not in writers:
        raise ValueError(f"unknown pixels backend {backend!r}")
    return writers[backend](builder)  # type: ignore[call-arg]
