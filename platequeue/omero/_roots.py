"""The one place that decides whether a file may be read: the allowed roots.

A worker reads pixels only from files that, with every symlink followed, lie under one of

* the binary repository (``OMERO_DATA_DIR``),
* the ManagedRepository when it is kept outside the data dir, and
* the extra read-only roots a facility mounts for in-place imports
  (``OMERO_INPLACE_ROOTS``: ``omero import --transfer=ln_s`` leaves symlinks in the
  ManagedRepository pointing at instrument storage).

Every path a reader opens goes through :meth:`AllowedRoots.resolve` (a path from a database
row) or :meth:`AllowedRoots.join` (a path stored *inside* a file, such as an NGFF dataset
path or an OME-TIFF ``UUID FileName``): anything else is refused with
:class:`OutsideRootsError` (a permanent error: the well fails, nothing is read) and one
warning line naming the image and the path.

Example
-------
>>> roots = AllowedRoots("/OMERO", extra=["/mnt/instrument"])  # doctest: +SKIP
>>> roots.resolve("/OMERO/ManagedRepository/u_2/a.tif", image=51)  # doctest: +SKIP
PosixPath('/mnt/instrument/run1/a.tif')
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from platequeue.omero._repo import UnsafePathError

logger = logging.getLogger(__name__)

_FOLDER_CACHE = 4096


class OutsideRootsError(UnsafePathError):
    """A file would be read from outside the allowed roots (or outside its container)."""


class AllowedRoots:
    """The folders pixels may be read from; see the module docstring."""

    def __init__(self, data_dir: str | os.PathLike[str],
                 managed_dir: str | os.PathLike[str] | None = None,
                 extra: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.data_dir = Path(data_dir)
        self.managed_dir = Path(managed_dir) if managed_dir is not None else None
        self.extra = tuple(Path(p) for p in extra)
        self._roots: tuple[str, ...] | None = None
        self._trusted = 2 if self.managed_dir is not None else 1  # data dir (+ managed dir)
        self._folders: dict[str, str] = {}

    @property
    def roots(self) -> tuple[Path, ...]:
        """The roots with their own symlinks followed (computed once)."""
        return tuple(Path(r) for r in self._root_strs())

    def _root_strs(self) -> tuple[str, ...]:
        if self._roots is None:
            given = [self.data_dir, *([self.managed_dir] if self.managed_dir else []),
                     *self.extra]
            self._roots = tuple(os.path.realpath(p) for p in given)  # trusted ones first
        return self._roots

    def allows(self, resolved: str | os.PathLike[str]) -> bool:
        """Whether an already resolved path lies under one of the roots."""
        r = os.fspath(resolved)
        return any(_under(r, root) for root in self._root_strs())

    def resolve(self, path: str | os.PathLike[str], *, image: int | None = None,
                what: str = "file", within: str | os.PathLike[str] | None = None) -> Path:
        """*path* with every symlink followed, refused unless it lies under a root.

        With *within* (an already resolved folder, e.g. an image's zarr) the path must also
        lie under that folder.  The parent folder's resolution is cached per instance for
        folders under the data dir (or managed dir): a field read there costs one ``lstat``
        of the file itself; under the in-place roots every component is resolved each time.
        """
        return Path(self.resolve_str(path, image=image, what=what, within=within))

    def resolve_str(self, path: str | os.PathLike[str], *, image: int | None = None,
                    what: str = "file", within: str | os.PathLike[str] | None = None) -> str:
        """:meth:`resolve`, as a ``str`` (the per-chunk and per-field paths skip pathlib)."""
        p = os.fspath(path)
        if "\x00" in p:
            self._refuse(image, what, p, p, "NUL in path")
        resolved = self._resolved(p)
        if within is not None and not _under(resolved, os.fspath(within)):
            self._refuse(image, what, p, resolved, f"outside {os.fspath(within)}")
        if not self.allows(resolved):
            self._refuse(image, what, p, resolved, "outside the allowed roots")
        return resolved

    def join(self, base: str | os.PathLike[str], relpath: str, *, image: int | None = None,
             what: str = "file", within: str | os.PathLike[str] | None = None) -> Path:
        """A path stored inside a file, relative to *base*: no absolute paths, no ``..``."""
        return Path(self.join_str(base, relpath, image=image, what=what, within=within))

    def join_str(self, base: str | os.PathLike[str], relpath: str, *, image: int | None = None,
                 what: str = "file", within: str | os.PathLike[str] | None = None) -> str:
        """:meth:`join`, as a ``str``."""
        if (not relpath or relpath.startswith("/") or "\\" in relpath or "\x00" in relpath
                or ".." in relpath.split("/")):
            self._refuse(image, what, relpath, relpath,
                         "absolute, '..', backslash or empty path inside a file")
        return self.resolve_str(os.path.join(base, relpath), image=image, what=what,
                                within=within)

    def _resolved(self, p: str) -> str:
        folder, name = os.path.split(p)
        parent = self._folders.get(folder)
        if parent is None:
            parent = os.path.realpath(folder or ".")
            # Only folders OMERO itself manages are remembered: instrument storage may change
            # under us (a folder swapped for a link), so it is resolved on every read.
            if any(_under(parent, r) for r in self._root_strs()[:self._trusted]):
                if len(self._folders) >= _FOLDER_CACHE:
                    self._folders.clear()
                self._folders[folder] = parent
        joined = os.path.join(parent, name)
        if name in ("", ".", "..") or os.path.islink(joined):
            return os.path.realpath(joined)
        return joined

    @staticmethod
    def _refuse(image: int | None, what: str, path: str, resolved: str, why: str) -> None:
        logger.warning("image %s: refused to read %s %r (-> %s): %s", image, what, path,
                       resolved, why)
        raise OutsideRootsError(f"image {image}: refused to read {what} {path!r}: {why}")


def _under(path: str, root: str) -> bool:
    """Whether the resolved *path* is *root* or lies below it (both absolute, normalised)."""
    return path == root or path.startswith(root if root.endswith("/") else root + "/")
