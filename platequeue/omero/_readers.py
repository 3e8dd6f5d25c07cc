"""One entry point to an image's pixels, whatever OMERO stored them as.

Sources are tried in the order omero-ms-image-region uses:

1. OME-Zarr (NGFF 0.4 on zarr v2, or 0.5 on zarr v3), when the image's ``externalinfo``
   has entitytype ``com.glencoesoftware.ngff:multiscales``; ``lsid`` is the multiscales
   path (relative to the data root, or absolute); level 0 is read
   (:mod:`platequeue.omero._ngff`; one chunk per plane with known codecs chunk by chunk,
   :mod:`platequeue.omero._zarrdirect`, anything else through zarr-python).
2. ``Pixels/<id>_pyramid``: OMERO's pyramid, a BigTIFF of JPEG-2000 tiles, one IFD per
   plane in XYZCT order (:mod:`platequeue.omero._tiffs`).
3. ``Pixels/<id>``: ROMIO, memory-mapped (:mod:`platequeue.omero._repo`).
4. The original file ``<repo root>/<pixels.path>/<pixels.name>``
   (:mod:`platequeue.omero._originals`), where the repo root is the ``originalfile`` row
   with ``mimetype='Repository'`` and ``hash = pixels.repo``: a single-file OME-TIFF
   (``.ome.tif[f]``) is read with tifffile, series ``image.series`` (fast path); every
   other format through Bio-Formats, as OMERO does (:mod:`platequeue.omero._bioformats`).

Every file opened, at any depth (the source itself, an NGFF dataset and its chunks, the
files an OME-TIFF names), must resolve under the allowed roots
(:class:`~platequeue.omero._roots.AllowedRoots`: the data dir plus the in-place roots);
otherwise the read is refused, logged, and the well fails.  Only the requested planes'
bytes (plus headers) are read.  ROMIO returns a big-endian zero-copy view, the others
native-endian arrays: consumers convert.

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

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from platequeue.omero import _ngff as ngff
from platequeue.omero import _ometiff as ometiff
from platequeue.omero import _originals as originals
from platequeue.omero import _repo as repo
from platequeue.omero import _tiffs as tiffs
from platequeue.omero._bioformats import BioFormatsConfig, BioFormatsSource
from platequeue.omero._model import PixelsInfo
from platequeue.omero._roots import AllowedRoots

logger = logging.getLogger(__name__)


class Source(enum.Enum):
    NGFF = "ngff"
    PYRAMID = "pyramid"
    ROMIO = "romio"
    ORIGINAL = "original"
    BIOFORMATS = "bioformats"

#: Original files read with tifffile (single-file OME-TIFF); the rest go to Bio-Formats.
TIFF_FAST_PATH = (".ome.tif", ".ome.tiff")


def repository_roots(engine: Engine) -> dict[str, str]:
    """Map repository uuid (``pixels.repo``) -> root folder name ("ManagedRepository")."""
    sql = "SELECT hash, name FROM originalfile WHERE mimetype = 'Repository' AND hash IS NOT NULL"
    with engine.connect() as conn:
        return {str(h): str(n) for h, n in conn.execute(text(sql))}


class RepositoryReader:
    """Reads fields and planes under *root* (the local mount of ``/OMERO``)."""

    def __init__(
        self, root: str | os.PathLike[str], repo_roots: Mapping[str, str] | None = None,
        *, roots: AllowedRoots | None = None,
        managed_dir: str | os.PathLike[str] | None = None,
        bioformats: BioFormatsConfig | None = None,
    ) -> None:
        self.root = Path(root)
        self._root_s = os.fspath(root)
        self.repo_roots = dict(repo_roots or {})
        self.managed_dir = Path(managed_dir) if managed_dir is not None else None
        self.roots = roots if roots is not None else AllowedRoots(self.root, self.managed_dir)
        self._bf_config = bioformats or BioFormatsConfig()
        self._bf: BioFormatsSource | None = None

    @property
    def bioformats(self) -> BioFormatsSource:
        """This process's Bio-Formats readers (the JVM starts on the first read)."""
        if self._bf is None:
            self._bf = BioFormatsSource(self._bf_config, self.roots)
        return self._bf

    def source(self, info: PixelsInfo) -> tuple[Source, Path]:
        """Which source serves *info*, and its resolved path (first match in OMERO's order).

        Paths from database rows (the NGFF ``lsid``, ``pixels.path``/``name``) are resolved
        and checked against the allowed roots first; ``Pixels/<id>[_pyramid]`` existence is
        probed on the plain joined paths (one stat each), and only the source chosen is
        resolved and checked.
        """
        kind, path = self._locate(info)
        return kind, Path(path)

    def _locate(self, info: PixelsInfo) -> tuple[Source, str]:
        """:meth:`source`, the path as a ``str`` (what the readers open)."""
        image = info.image_id
        if info.ngff_path:
            ngff_path = self._row_path(info.ngff_path, image, "OME-Zarr")
            if os.path.isdir(ngff_path):
                return Source.NGFF, ngff_path
            logger.warning("image %s: OME-Zarr %s missing, falling back", image, ngff_path)
        romio = os.path.join(self._root_s, repo.romio_relpath(info.id))
        if os.path.isfile(romio + "_pyramid"):
            return Source.PYRAMID, self.roots.resolve_str(romio + "_pyramid", image=image,
                                                          what="pyramid")
        if os.path.lexists(romio):  # an unreadable entry must fail as OSError
            return Source.ROMIO, self.roots.resolve_str(romio, image=image, what="ROMIO file")
        if info.path is not None and info.name:
            root_name = self.repo_roots.get(info.repo) if info.repo else None
            if info.repo and root_name is None:
                raise repo.PixelsFileError(f"image {image}: unknown repository {info.repo!r}")
            path = originals.resolve_original(self.root, self.managed_dir, root_name,
                                              info.path, info.name)
            if os.path.lexists(path):
                resolved = self.roots.resolve_str(path, image=image, what="original file")
                fast = path.name.lower().endswith(TIFF_FAST_PATH)
                return (Source.ORIGINAL if fast else Source.BIOFORMATS), resolved
        raise repo.PixelsFileError(f"image {image}: no pixels found under {self.root}")

    def _row_path(self, value: str, image: int, what: str) -> str:
        """A path from a database row: relative to the data dir (no ``..``) or absolute;
        resolved and checked against the allowed roots."""
        if value.startswith("/"):
            return self.roots.resolve_str(value, image=image, what=what)
        return self.roots.join_str(self._root_s, value, image=image, what=what)

    def input_files(self, info: PixelsInfo) -> tuple[Source, list[tuple[str, Path]]]:
        """The source of *info* and the files a read of it depends on, as (name, path):
        what an incremental run's fingerprint covers (an original file's fileset adds the
        rest of its files: :func:`platequeue.omero.fileset_files`)."""
        kind, path = self.source(info)
        if kind is Source.NGFF:
            return kind, list(ngff.array_files(path, self.roots, info.image_id))
        return kind, [(path.name, path)]

    def open_field(self, info: PixelsInfo, *, t: int = 0, native: bool = False,
                   out: np.ndarray | None = None) -> np.ndarray:
        """All channels and z-planes of timepoint *t*, shape ``(C, Z, Y, X)``.

        For ROMIO, ``native=False`` gives the zero-copy big-endian view of the memory map
        and ``native=True`` one ``readinto`` into a native-endian array (*out* if given);
        the other sources always return native-endian arrays (OME-TIFF and OME-Zarr into *out*
        if given).
        """
        kind, where = self._locate(info)
        if kind is Source.ROMIO:
            if native:
                return repo.read_field_native(self.root, info, t=t, out=out, path=where)
            return repo.read_field(self.root, info, t=t, path=Path(where))
        repo.check_index(info, t=t)
        if kind is Source.NGFF:
            return ngff.read(Path(where), self.roots, info, t, out=out)
        if kind is Source.BIOFORMATS:
            return self.bioformats.read_field(info, Path(where), t=t)
        planes = [(c, z) for c in range(info.size_c) for z in range(info.size_z)]
        field = self._tiff_planes(kind, where, info, t, planes, out=out)
        return field.reshape(info.size_c, info.size_z, info.size_y, info.size_x)

    def read_plane(self, info: PixelsInfo, *, z: int = 0, c: int = 0, t: int = 0) -> np.ndarray:
        """One plane, shape ``(Y, X)``."""
        kind, path = self.source(info)
        if kind is Source.ROMIO:
            return repo.read_plane(self.root, info, z=z, c=c, t=t, path=path)
        repo.check_index(info, z=z, c=c, t=t)
        if kind is Source.NGFF:
            return ngff.read(path, self.roots, info, t, c, z)
        if kind is Source.BIOFORMATS:
            return self.bioformats.read_field(info, path, t=t, channels=range(c, c + 1),
                                              zs=range(z, z + 1))[0, 0]
        return self._tiff_planes(kind, path, info, t, [(c, z)])[0]

    def _tiff_planes(self, kind: Source, path: str | Path, info: PixelsInfo, t: int,
                     planes: tiffs.Planes, out: np.ndarray | None = None) -> np.ndarray:
        """The (c, z) *planes* of timepoint *t*: ``(N, Y, X)`` (OME-TIFF into *out*)."""
        if kind is Source.PYRAMID:
            return np.stack(tiffs.read_pyramid(Path(path), info, t, planes))
        return ometiff.read_field(path, self.roots, info, t, planes, out=out)


def open_field(
    root: str | os.PathLike[str],
    info: PixelsInfo,
    *,
    t: int = 0,
    repo_roots: Mapping[str, str] | None = None,
    roots: AllowedRoots | None = None,
) -> np.ndarray:
    """``RepositoryReader(root, repo_roots, roots=roots).open_field(info, t=t)``:
    shape ``(C, Z, Y, X)``."""
    return RepositoryReader(root, repo_roots, roots=roots).open_field(info, t=t)
