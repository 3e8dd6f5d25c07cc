"""The files of an image's fileset on this host (incremental runs fingerprint them).

An FS-imported image (Bio-Formats or OME-TIFF source) has no ``Pixels/<id>``: its input is
every file of its fileset (``image.fileset`` -> ``filesetentry`` -> ``originalfile``),
resolved like the reader resolves ``pixels.path``/``name``
(:mod:`platequeue.omero._originals`) and kept only when it lies under the allowed roots.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine

from platequeue.omero._originals import check_inside, resolve_original

if TYPE_CHECKING:  # the readers (tifffile, zarr) load only where pixels are read
    from platequeue.omero._readers import RepositoryReader
from platequeue.omero._repo import UnsafePathError

logger = logging.getLogger(__name__)

_SQL = text("""
SELECT px.id AS pixels_id, o.path, o.name, o.repo
  FROM pixels px
  JOIN image i ON i.id = px.image
  JOIN filesetentry e ON e.fileset = i.fileset
  JOIN originalfile o ON o.id = e.originalfile
 WHERE px.id IN :ids
 ORDER BY px.id, e.fileset_index
""").bindparams(bindparam("ids", expanding=True))


def fileset_files(engine: Engine, reader: RepositoryReader,
                  pixels_ids: Sequence[int]) -> dict[int, list[Path]]:
    """pixels id -> the local paths of its fileset's files (images without one left out).

    A file that cannot be placed under the allowed roots leaves its image out (no
    fingerprint: never skipped)."""
    ids = sorted({int(p) for p in pixels_ids})
    if not ids:
        return {}
    out: dict[int, list[Path]] = defaultdict(list)
    bad: set[int] = set()
    with engine.connect() as conn:
        rows = conn.execute(_SQL, {"ids": ids}).all()
    for pid, path, name, repo in rows:
        try:
            root_name = reader.repo_roots.get(repo) if repo else None
            if repo and root_name is None:
                raise UnsafePathError(f"unknown repository {repo!r}")
            local = resolve_original(reader.root, reader.managed_dir, root_name, path or "",
                                     name)
            out[int(pid)].append(check_inside(local, reader.roots))
        except UnsafePathError as exc:
            logger.warning("pixels %s: fileset file %r/%r not fingerprinted: %s", pid, path,
                           name, exc)
            bad.add(int(pid))
    return {pid: files for pid, files in out.items() if pid not in bad}
