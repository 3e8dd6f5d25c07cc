"""Pixel-file writers for the fixture: one per storage kind OMERO knows.

Each writer gets the image and pixels rows of every image the fixture creates,
writes the pixels where OMERO would keep them and fills the columns (and extra
rows: fileset, originalfile, externalinfo) that point at them.

* ``romio``: ``Pixels/<id>`` (raw big-endian XYZCT), no fileset.
* ``pyramid``: ``Pixels/<id>_pyramid`` as OMERO writes it (pyramid format v1.0.0): a
  big-endian BigTIFF, one IFD per plane in XYZCT order described
  ``OmeroPixelsPyramid v1.0.0``, tiles compressed as JPEG-2000 codestreams (TIFF
  compression 33003) holding every resolution ("decompression levels"), lossless;
  uint8 and uint16 only, as in OMERO.
* ``ometiff``: one multi-series OME-TIFF per plate under
  ``ManagedRepository/<user>_<id>/<yyyy>-<mm>/<dd>/<hh>-<mm>-<ss>.<ms>/``, a
  fileset with one entry, ``image.series`` = series index and
  ``pixels.path/name/repo`` pointing at the file; the repository root is the
  ``originalfile`` row with ``mimetype='Repository'`` and ``hash=<repo uuid>``.
* ``zarr`` / ``zarr-0.5``: an OME-Zarr HCS plate under ``ngff/``, NGFF 0.4 on zarr
  format 2 (metadata at the top of the attributes) or NGFF 0.5 on zarr format 3
  (metadata under ``attrs["ome"]``), two resolution levels per image; each image
  carries ``externalinfo(entitytype='com.glencoesoftware.ngff:multiscales',
  lsid=<multiscales path relative to the data root>)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sized
from pathlib import Path
from typing import Any, Protocol, cast

import imagecodecs
import numpy as np
import tifffile
import zarr

from platequeue.demo._fsimport import FixtureBuilder as FsBuilder
from platequeue.demo._fsimport import FsImportWriter
from platequeue.demo._writers import write_romio
from platequeue.omero import NGFF_ENTITY_TYPE, PYRAMID_DESCRIPTION, pixel_dtype, romio_relpath

logger = logging.getLogger(__name__)

#: TIFF compression tag OMERO's pyramid writer uses (Bio-Formats' ``JPEG_2000``).
PYRAMID_COMPRESSION = 33003

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
    """Writes ``Pixels/<id>_pyramid`` in OMERO's pyramid format (JPEG-2000 tiles)."""

    tile = 128  # OMERO's default is 256; the encoder needs >= 128 px for 5 resolutions
    resolutions = 5  # OMERO writes 5 resolutions into each tile's codestream

    def add(self, rows_out: Rows, image_row: dict[str, Any], pixels_row: dict[str, Any],
            data: np.ndarray, pixels_type: str) -> None:
        write_pyramid(self.root / (romio_relpath(pixels_row["id"]) + "_pyramid"),
                      data.astype(pixel_dtype(pixels_type).newbyteorder("="), copy=False),
                      tile=self.tile, resolutions=self.resolutions)


def write_pyramid(path: Path, data: np.ndarray, *, tile: int = 256,
                  resolutions: int = 5) -> None:
    """Write *data* ``(T, C, Z, Y, X)`` (uint8/uint16) as an OMERO pyramid at *path*."""
    if data.dtype.newbyteorder("=") not in (np.dtype("u1"), np.dtype("=u2")):
        raise ValueError(f"OMERO pyramids hold uint8 or uint16 only, not {data.dtype}")
    path.parent.mkdir(parents=True, exist_ok=True)

    def tiles(plane: np.ndarray) -> Iterator[bytes]:
        for y in range(0, plane.shape[0], tile):
            for x in range(0, plane.shape[1], tile):
                block = np.zeros((tile, tile), plane.dtype)
                part = plane[y:y + tile, x:x + tile]
                block[:part.shape[0], :part.shape[1]] = part
                yield bytes(imagecodecs.jpeg2k_encode(
                    block, level=0, codecformat="J2K", reversible=True, resolutions=resolutions))

    with tifffile.TiffWriter(path, bigtiff=True, byteorder=">") as tw:
        for plane in data.reshape(-1, *data.shape[-2:]):  # XYZCT: z fastest, then c, t
            tw.write(tiles(plane), shape=plane.shape, dtype=plane.dtype, tile=(tile, tile),
                     compression=PYRAMID_COMPRESSION, photometric="minisblack",
                     description=PYRAMID_DESCRIPTION, metadata=None)


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
    """Writes an OME-Zarr HCS plate (NGFF 0.4, zarr v2); images point at it through
    ``externalinfo``."""

    version = "0.4"

    def __init__(self, builder: FixtureBuilder) -> None:
        self.b = builder
        self.rel = f"ngff/plate_{len(builder.plates)}.zarr"
        self.v3 = self.version != "0.4"
        self.group = zarr.open_group(builder.data_dir / self.rel, mode="w",
                                     zarr_format=3 if self.v3 else 2)
        self.wells: dict[str, int] = {}

    def _ome(self, group: zarr.Group, key: str, value: Any) -> None:
        if self.v3:  # NGFF 0.5: everything under "ome", the version once
            group.attrs["ome"] = {"version": self.version, key: value}
        else:
            group.attrs[key] = value

    def add(self, rows_out: Rows, image_row: dict[str, Any], pixels_row: dict[str, Any],
            data: np.ndarray, pixels_type: str) -> None:
        row, col = _split_label(image_row["name"].split()[0])
        field = self.wells.get(f"{row}/{col}", 0)
        self.wells[f"{row}/{col}"] = field + 1
        sub = f"{row}/{col}/{field}"
        img = self.group.require_group(sub)
        dtype = pixel_dtype(pixels_type)
        extra: dict[str, Any] = {}
        if self.v3:
            dtype = dtype.newbyteorder("=")
            extra["dimension_names"] = list("tczyx")
        datasets = []
        for level in range(2):
            step = 2 ** level
            pixels = np.ascontiguousarray(data[..., ::step, ::step], dtype=dtype)
            arr = img.create_array(str(level), shape=pixels.shape,
                                   chunks=(1, 1, 1, *pixels.shape[-2:]), dtype=dtype, **extra)
            arr[...] = pixels
            datasets.append({"path": str(level), "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 1.0, 1.0, float(step), float(step)]}]})
        axes = [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"}] + [
            {"name": n, "type": "space"} for n in "zyx"]
        ms: dict[str, Any] = {"axes": axes, "datasets": datasets, "name": image_row["name"]}
        if not self.v3:
            ms["version"] = self.version
        self._ome(img, "multiscales", [ms])
        ext = self.b.new_id("externalinfo")
        det = {k: image_row[k] for k in ("permissions", "owner_id", "group_id", "creation_id")}
        rows_out["externalinfo"].append({"id": ext, "entityid": image_row["id"],
                                         "entitytype": NGFF_ENTITY_TYPE,
                                         "lsid": f"{self.rel}/{sub}", **det})
        image_row["external_id"] = ext

    def finish(self, rows_out: Rows, det: dict[str, Any]) -> None:
        version = {} if self.v3 else {"version": self.version}
        labels = [tuple(k.split("/")) for k in sorted(self.wells)]
        rows = sorted({r for r, _ in labels}, key=lambda r: (len(r), r))
        cols = sorted({c for _, c in labels}, key=int)
        for key, fields in self.wells.items():
            self._ome(self.group[key], "well", {  # type: ignore[arg-type]
                "images": [{"path": str(f)} for f in range(fields)], **version})
        self._ome(self.group, "plate", {
            "rows": [{"name": r} for r in rows], "columns": [{"name": c} for c in cols],
            "wells": [{"path": f"{r}/{c}", "rowIndex": rows.index(r),
                       "columnIndex": cols.index(c)} for r, c in labels],
            "field_count": max(self.wells.values(), default=0), **version})


class Zarr05Writer(ZarrWriter):
    """The same plate as NGFF 0.5: zarr v3, metadata under ``attrs["ome"]``."""

    version = "0.5"


def _split_label(label: str) -> tuple[str, str]:
    i = len(label.rstrip("0123456789"))
    return label[:i], label[i:]


def writer_for(backend: str, builder: FixtureBuilder) -> PixelsWriter:
    """The writer for *backend*: ``romio``, ``pyramid``, ``ometiff``, ``zarr`` (NGFF 0.4),
    ``zarr-0.5``, or an FS-imported file set, ``companion`` or ``htd``
    (:mod:`platequeue.demo._fsimport`)."""
    writers: dict[str, type[PixelsWriter]] = {
        "romio": RomioWriter, "pyramid": PyramidWriter, "ometiff": OmeTiffWriter,
        "zarr": ZarrWriter, "zarr-0.5": Zarr05Writer}
    if backend in ("companion", "htd"):  # FS-imported file sets, read by Bio-Formats
        return FsImportWriter(cast("FsBuilder", builder), backend)
    if backend not in writers:
        raise ValueError(f"unknown pixels backend {backend!r}")
    return writers[backend](builder)  # type: ignore[call-arg]
