"""OME-TIFF original files: a per-process plane index, and reads of just the planes' bytes.

Parsing an OME-TIFF (its OME-XML and every IFD of every series) costs time proportional
to the plate, so each process parses a file once into an :class:`OmeLayout` (which file,
IFD and byte range holds each plane of each series) and keeps the last few layouts,
invalidated when any file involved changes (size, mtime, device or inode).  An
uncompressed plane is then one ``preadv`` straight into the field array; a compressed one
is decoded by tifffile.

Containment (checked while the layout is built, before tifffile opens a second file): every
``TiffData/UUID@FileName`` must be a relative path without ``..`` that resolves under the
allowed roots and exists, and every plane's file must resolve under the allowed roots.
Reads open the resolved files with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import tifffile

from platequeue.omero._model import PixelsInfo
from platequeue.omero._repo import PixelsFileError, pixel_dtype
from platequeue.omero._roots import AllowedRoots
from platequeue.omero._tiffs import decode_page

_CACHE_SIZE = 16
_cache: OrderedDict[str, OmeLayout] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Plane:
    file: str    # resolved path of the file holding the plane
    page: int    # IFD index in that file
    offset: int  # byte offset of the contiguous, uncompressed data; -1 otherwise
    dtype: str   # on-disk dtype, with byte order
    shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OmeLayout:
    stamps: dict[str, tuple[int, ...]]  # file -> (size, mtime_ns, dev, inode) when parsed
    series: list[tuple[str, tuple[int, ...], list[Plane | None]]]  # axes, shape, planes


def _stamp(st: os.stat_result) -> tuple[int, ...]:
    """What identifies a file's content: a different file swapped in (a folder on in-place
    storage replaced by a link elsewhere) has another device/inode, and is parsed and
    checked against the allowed roots again."""
    return st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino


def check_references(tf: tifffile.TiffFile, path: Path, roots: AllowedRoots,
                     image: int) -> None:
    """Refuse an OME-TIFF whose OME-XML names a file outside the allowed roots or missing."""
    xml = tf.ome_metadata
    if not xml:
        return
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise PixelsFileError(f"image {image}: {path} has invalid OME-XML: {exc}") from None
    for el in root.iter():
        if not el.tag.endswith("UUID") or "FileName" not in el.attrib:
            continue
        name = el.attrib["FileName"]
        target = roots.join(path.parent, name, image=image, what="OME-TIFF TiffData file")
        if not target.is_file():
            raise PixelsFileError(f"image {image}: {path} refers to {name!r}, which is missing")


def _parse(path: Path, roots: AllowedRoots, image: int) -> OmeLayout:
    stamps = {str(path): _stamp(path.stat())}
    series: list[tuple[str, tuple[int, ...], list[Plane | None]]] = []
    with tifffile.TiffFile(path) as tf:
        check_references(tf, path, roots, image)
        for s in tf.series:
            planes: list[Plane | None] = []
            for frame in s.pages:
                if frame is None:
                    planes.append(None)
                    continue
                fh = frame.parent.filehandle
                file = str(roots.resolve(fh.path, image=image, what="OME-TIFF file"))
                if file not in stamps:
                    stamps[file] = _stamp(os.stat(file))
                if fh.closed:  # tifffile closes the other files an OME-TIFF names
                    fh.open()
                page = frame.aspage()
                assert isinstance(page, tifffile.TiffPage)
                plain = (page.compression == 1 and page.predictor == 1 and page.fillorder == 1
                         and page.samplesperpixel == 1 and page.is_contiguous)
                disk = frame.parent.byteorder + page.dtype.str[1:]  # type: ignore[union-attr]
                planes.append(Plane(file, page.index, page.dataoffsets[0] if plain else -1,
                                    disk, tuple(page.shape)))
            series.append((s.get_axes(False), tuple(s.get_shape(False)), planes))
    return OmeLayout(stamps, series)


def layout(path: str | Path, roots: AllowedRoots, image: int, *,
           stamp: tuple[int, ...] | None = None, fresh: bool = False) -> OmeLayout:
    """The plane index of the OME-TIFF at *path* (resolved), parsed once per process;
    *stamp* is the file's current :func:`_stamp` when the caller has it (else stat'ed)."""
    key = os.fspath(path)
    with _lock:
        got = _cache.get(key)
        if got is not None:
            _cache.move_to_end(key)
    if got is not None and not fresh and \
            got.stamps[key] == (stamp if stamp is not None else _stamp(os.stat(key))):
        return got
    parsed = _parse(Path(key), roots, image)
    with _lock:
        _cache[key] = parsed
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return parsed


def read_field(path: str | Path, roots: AllowedRoots, info: PixelsInfo, t: int,
               planes: list[tuple[int, int]], *, out: np.ndarray | None = None,
               _retry: bool = True) -> np.ndarray:
    """The given (c, z) planes of timepoint *t* of series ``image.series``: ``(N, Y, X)``
    (into *out*, native-endian and C-contiguous, when given)."""
    native = pixel_dtype(info.pixels_type).newbyteorder("=")
    want = (len(planes), info.size_y, info.size_x)
    if out is None:
        out = np.empty(want, dtype=native)
    elif out.size != want[0] * want[1] * want[2] or out.dtype != native \
            or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous {native} holding {want}")
    out = out.reshape(want)
    fds: dict[str, int] = {}
    try:
        key = os.fspath(path)
        main = fds[key] = os.open(key, _FLAGS)
        stamps = {key: _stamp(os.fstat(main))}  # of the files as opened now
        lay = layout(key, roots, info.image_id, stamp=stamps[key], fresh=not _retry)
        if info.series >= len(lay.series):
            raise PixelsFileError(f"image {info.image_id}: {path} has {len(lay.series)} "
                                  f"series, OMERO says series {info.series}")
        axes, shape, index_planes = lay.series[info.series]
        at = {"T": t, "C": 0, "Z": 0}
        for n, (c, z) in enumerate(planes):
            at["C"], at["Z"] = c, z
            index = 0
            for ax, size in zip(axes, shape, strict=True):
                if ax not in "YXS":
                    index = index * size + at.get(ax, 0)
            plane = index_planes[index] if index < len(index_planes) else None
            if plane is None:
                raise PixelsFileError(f"image {info.image_id}: {path} series {info.series} "
                                      f"has no plane z={z} c={c} t={t}")
            fd = fds.get(plane.file)
            if fd is None:
                fd = fds[plane.file] = os.open(plane.file, _FLAGS)
                stamps[plane.file] = _stamp(os.fstat(fd))
            if stamps[plane.file] != lay.stamps[plane.file]:  # changed since parsed: again
                if not _retry:
                    raise PixelsFileError(f"image {info.image_id}: {plane.file} changed "
                                          "while it was read")
                return read_field(path, roots, info, t, planes, out=out, _retry=False)
            _read_plane(fd, plane, info, path, out[n])
    finally:
        for fd in fds.values():
            os.close(fd)
    return out


_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _read_plane(fd: int, plane: Plane, info: PixelsInfo, path: str | Path,
                out: np.ndarray) -> None:
    if plane.shape != out.shape:
        raise PixelsFileError(f"image {info.image_id}: {path} page {plane.page} has shape "
                              f"{plane.shape}, OMERO's pixels row says {out.shape}")
    if plane.offset < 0:  # compressed or unusual layout: tifffile decodes it
        with tifffile.TiffFile(os.fdopen(os.dup(fd), "rb")) as tf:
            page = tf.pages[plane.page]
            assert isinstance(page, tifffile.TiffPage)
            np.copyto(out, decode_page(page, info, Path(path)), casting="unsafe")
        return
    disk = _dtype(plane.dtype)
    if disk.newbyteorder("=") != out.dtype:
        raise PixelsFileError(f"image {info.image_id}: {path} holds {disk}, OMERO's pixels "
                              f"row says {info.pixels_type}")
    target = out if disk == out.dtype else np.empty(out.shape, disk)
    got = os.preadv(fd, [target.reshape(-1).view(np.uint8).data], plane.offset)
    if got != target.nbytes:
        raise PixelsFileError(f"image {info.image_id}: short read of {plane.file}")
    if target is not out:
        np.copyto(out, target)


@functools.lru_cache(maxsize=64)
def _dtype(name: str) -> np.dtype:
    return np.dtype(name)
