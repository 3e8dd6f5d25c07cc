"""One entry point to an image's pixels, whatever OMERO stored them as.

Sources are tried in the order omero-ms-image-region uses:

1. OME-Zarr, when the image's ``externalinfo`` has entitytype
   ``com.glencoesoftware.ngff:multiscales``; ``lsid`` is the multiscales path
   (relative to the data root, or absolute inside it); level 0 is read.
2. ``Pixels/<id>_pyramid``: a tiled BigTIFF with one level-0 page per plane in
   XYZCT order.
3. ``Pixels/<id>``: ROMIO, memory-mapped (:mod:`platequeue.omero._repo`).
4. The original file ``<repo root>/<pixels.path><pixels.name>``, where the repo
   root is the ``originalfile`` row with ``mimetype='Repository'`` and
   ``hash = pixels.repo``; TIFF-family files (OME-TIFF) are read with tifffile,
   series ``image.series``.

Only the requested planes' bytes (plus headers) are read.  ROMIO returns a
big-endian zero-copy view, the others native-endian arrays: consumers convert.

Example
-------
>>> reader = RepositoryReader("/OMERO", repository_roots(engine))  # doctest: +SKIP
>>> field = reader.open_field(catalog.pixels(image_id))             # (C, Z, Y, X)
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import zarr
from sqlalchemy import text
from sqlalchemy.engine import Engine

from platequeue.omero import _repo as repo
from platequeue.omero._model import PixelsInfo

logger = logging.getLogger(__name__)


class CorruptPixelsError(ValueError):
    """Stored pixels that cannot be decoded (a corrupt compressed chunk): retrying cannot
    help, so it is a ``ValueError`` and the well fails at once."""


class Source(enum.Enum):
    NGFF = "ngff"
    PYRAMID = "pyramid"
    ROMIO = "romio"
    ORIGINAL = "original"


def repository_roots(engine: Engine) -> dict[str, str]:
    """Map repository uuid (``pixels.repo``) -> root folder name ("ManagedRepository")."""
    sql = "SELECT hash, name FROM originalfile WHERE mimetype = 'Repository' AND hash IS NOT NULL"
    with engine.connect() as conn:
        return {str(h): str(n) for h, n in conn.execute(text(sql))}


class RepositoryReader:
    """Reads fields and planes under *root* (the local mount of ``/OMERO``)."""

    def __init__(
        self, root: str | os.PathLike[str], repo_roots: Mapping[str, str] | None = None
    ) -> None:
        self.root = Path(root)
        self.repo_roots = dict(repo_roots or {})

    def source(self, info: PixelsInfo) -> tuple[Source, Path]:
        """Which source serves *info*, and its path (first match in OMERO's order)."""
        # Existence is probed on the plain joined paths (one stat each); only the source
        # chosen is resolved and checked against the root (symlinks out are refused then).
        if info.ngff_path:
            path = repo.safe_path(self.root, info.ngff_path)
            if path.is_dir():
                return Source.NGFF, path
            logger.warning("image %s: OME-Zarr %s missing, falling back", info.image_id, path)
        relpath = repo.romio_relpath(info.id)
        if os.path.isfile(self.root / (relpath + "_pyramid")):
            return Source.PYRAMID, repo.safe_path(self.root, relpath + "_pyramid")
        if os.path.lexists(self.root / relpath):  # an unreadable entry must fail as OSError
            return Source.ROMIO, self.root / relpath  # read_field* check it against the root
        if info.path is not None and info.name and info.repo:
            root_name = self.repo_roots.get(info.repo)
            if root_name is None:
                raise repo.PixelsFileError(
                    f"image {info.image_id}: unknown repository {info.repo!r}")
            path = repo.safe_path(self.root, f"{root_name}/{info.path}{info.name}")
            if path.is_file():
                return Source.ORIGINAL, path
        raise repo.PixelsFileError(f"image {info.image_id}: no pixels found under {self.root}")

    def open_field(self, info: PixelsInfo, *, t: int = 0, native: bool = False,
                   out: np.ndarray | None = None) -> np.ndarray:
        """All channels and z-planes of timepoint *t*, shape ``(C, Z, Y, X)``.

        For ROMIO, ``native=False`` gives the zero-copy big-endian view of the memory map
        and ``native=True`` one ``readinto`` into a native-endian array (*out* if given);
        the other sources always return native-endian arrays.
        """
        kind, path = self.source(info)
        if kind is Source.ROMIO:
            if native:
                return repo.read_field_native(self.root, info, t=t, out=out)
            return repo.read_field(self.root, info, t=t)
        repo.check_index(info, t=t)
        if kind is Source.NGFF:
            return _ngff_read(path, t)
        planes = [[self._tiff_plane(kind, path, info, z=z, c=c, t=t)
                   for z in range(info.size_z)] for c in range(info.size_c)]
        return np.stack([np.stack(zs) for zs in planes])

    def read_plane(self, info: PixelsInfo, *, z: int = 0, c: int = 0, t: int = 0) -> np.ndarray:
        """One plane, shape ``(Y, X)``."""
        kind, path = self.source(info)
        if kind is Source.ROMIO:
            return repo.read_plane(self.root, info, z=z, c=c, t=t)
        repo.check_index(info, z=z, c=c, t=t)
        if kind is Source.NGFF:
            return _ngff_read(path, t, c, z)
        return self._tiff_plane(kind, path, info, z=z, c=c, t=t)

    def _tiff_plane(self, kind: Source, path: Path, info: PixelsInfo, *, z: int, c: int,
                    t: int) -> np.ndarray:
        with tifffile.TiffFile(path) as tf:
            if kind is Source.PYRAMID:
                page = tf.pages[(t * info.size_c + c) * info.size_z + z]
                return np.asarray(page.asarray())
            series = tf.series[info.series]
            axes = series.get_axes(False)
            shape = series.get_shape(False)
            index = 0
            for ax, n in zip(axes, shape, strict=True):
                if ax in "YXS":
                    continue
                index = index * n + {"T": t, "C": c, "Z": z}.get(ax, 0)
            return np.asarray(series.pages[index].asarray())  # type: ignore[union-attr]


def _ngff_read(path: Path, t: int, c: int | None = None, z: int | None = None) -> np.ndarray:
    """Level 0 of the multiscales at *path*: the (C, Z, Y, X) field, or one (Y, X) plane."""
    group = zarr.open_group(path, mode="r")
    attrs: dict[str, Any] = dict(group.attrs.asdict())
    ms: dict[str, Any] = attrs["multiscales"][0]
    axes: list[str] = [a["name"] if isinstance(a, dict) else a for a in ms.get("axes", "tczyx")]
    arr = zarr.open_array(path / str(ms["datasets"][0]["path"]), mode="r")
    pick = {"t": t, "c": c, "z": z}
    sel: tuple[Any, ...] = tuple(
        slice(None) if pick.get(ax) is None else pick[ax] for ax in axes)
    try:
        data = np.asarray(arr[sel])
    except RuntimeError as exc:  # codecs (zstd, blosc, zlib) report bad input this way
        raise CorruptPixelsError(f"OME-Zarr image {path.name}: a chunk cannot be decoded "
                                 f"({exc})") from exc
    if c is not None and z is not None:
        return data
    kept = [ax for ax in axes if ax != "t"]
    for ax in ("c", "z"):
        if ax not in kept:
            data = data[np.newaxis]
            kept.insert(0, ax)
    return np.transpose(data, [kept.index(ax) for ax in ("c", "z", "y", "x")])


def open_field(
    root: str | os.PathLike[str],
    info: PixelsInfo,
    *,
    t: int = 0,
    repo_roots: Mapping[str, str] | None = None,
) -> np.ndarray:
    """``RepositoryReader(root, repo_roots).open_field(info, t=t)``: shape ``(C, Z, Y, X)``."""
    return RepositoryReader(root, repo_roots).open_field(info, t=t)
