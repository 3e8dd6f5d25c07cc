"""Where an FS-imported image's original file lives, and the allowed-roots check.

OMERO's ``OmeroFilePathResolver`` finds the file a reader is initialised with as
``File(File(<repository root>, pixels.path), pixels.name)``: the repository root
is the ``originalfile`` row with ``mimetype='Repository'`` and ``hash =
pixels.repo`` (its ``path`` + ``name``, e.g. ``/OMERO/`` + ``ManagedRepository``),
or the data dir when ``pixels.repo`` is null.  ``pixels.path`` has no trailing
slash in real rows, so the parts are joined as path components.

On a worker the server's folders are local mounts: the data dir is
``OMERO_DATA_DIR`` and a ManagedRepository kept outside it (OMERO's
``omero.managed.dir``) is ``OMERO_MANAGED_DIR``.  Every file a reader opens must
resolve (symlinks followed) under one of the allowed roots
(:func:`check_inside`), otherwise :class:`~platequeue.omero.UnsafePathError`
is raised and logged.

Example
-------
>>> str(resolve_original("/OMERO", None, "ManagedRepository", "u_2/2026-12/01", "a.HTD"))
'/OMERO/ManagedRepository/u_2/2026-12/01/a.HTD'
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from platequeue.omero._repo import UnsafePathError
from platequeue.omero._roots import AllowedRoots

logger = logging.getLogger(__name__)

#: Name of OMERO's managed repository folder (the ``Repository`` row's ``name``).
MANAGED_NAME = "ManagedRepository"


def local_repository_root(data_dir: str | os.PathLike[str], managed_dir: str | os.PathLike[str]
                          | None, root_name: str | None) -> Path:
    """The local mount of a repository: the data dir for ``repo`` null, *managed_dir* for
    the ManagedRepository when set (OMERO's ``omero.managed.dir``), else
    ``<data_dir>/<root_name>``."""
    if root_name is None:
        return Path(data_dir)
    if managed_dir is not None and root_name in (MANAGED_NAME, Path(managed_dir).name):
        return Path(managed_dir)
    if not root_name or ".." in PurePosixPath(root_name).parts or root_name.startswith("/"):
        raise UnsafePathError(f"refused repository name {root_name!r}")
    return Path(data_dir) / root_name


def resolve_original(data_dir: str | os.PathLike[str], managed_dir: str | os.PathLike[str] | None,
                     root_name: str | None, path: str, name: str) -> Path:
    """``<local root>/<pixels.path>/<pixels.name>`` joined as components (not yet resolved).

    ``..`` components are refused outright; a leading ``/`` is dropped (Java's
    ``new File(parent, "/x")`` appends too).  A pure function of its arguments: the join
    is remembered per process (every field of an OME-TIFF plate asks for the same file).
    """
    return _joined(os.fspath(data_dir), None if managed_dir is None else os.fspath(managed_dir),
                   root_name, path, name)


@functools.lru_cache(maxsize=1024)
def _joined(data_dir: str, managed_dir: str | None, root_name: str | None, path: str,
            name: str) -> Path:
    root = local_repository_root(data_dir, managed_dir, root_name)
    parts = [*PurePosixPath(path or ".").parts, *PurePosixPath(name).parts]
    parts = [p for p in parts if p not in ("/", ".")]
    if not parts or ".." in parts or "\x00" in "".join(parts):
        logger.warning("refused original file %r/%r: empty, NUL or '..' component", path, name)
        raise UnsafePathError(f"refused original file {path!r}/{name!r}: '..' or empty")
    return root.joinpath(*parts)


def check_inside(path: str | os.PathLike[str],
                 roots: AllowedRoots | Iterable[str | os.PathLike[str]]) -> Path:
    """*path* resolved (symlinks followed); :class:`UnsafePathError` (logged) unless it lies
    under one of *roots*: an :class:`~platequeue.omero._roots.AllowedRoots` (the data dir,
    the managed dir and the in-place roots), or plain folders (the first is the data dir)."""
    if not isinstance(roots, AllowedRoots):
        first, *rest = list(roots)
        roots = AllowedRoots(first, extra=rest)
    return roots.resolve(path, what="original file")
