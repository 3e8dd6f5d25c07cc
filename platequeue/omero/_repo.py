"""OMERO binary repository: path rules, pixel types and the ROMIO reader.

``Pixels/<id>`` holds an image's raw pixels with no header, big-endian, always in
XYZCT order, so the file is a C-ordered array of shape ``(T, C, Z, Y, X)`` and
``np.memmap`` reads it without a copy.  Ids above 999 nest in ``Dir-XXX``
folders (999 -> ``Pixels/999``, 1000 -> ``Pixels/Dir-001/1000``, 1234567 ->
``Pixels/Dir-001/Dir-234/1234567``); ``Files/`` and ``Thumbnails/`` use the
same rule.  A plane OMERO never wrote starts with the 64-byte pattern
``0x80, 0x7F, 0x80, 0x7F, ...`` followed by zeros; reading one raises
:class:`UnwrittenPlaneError`.

Every path is resolved inside the repository root: ``..``, absolute paths and
symlinks leading out are refused (:class:`UnsafePathError`) and logged.

Example
-------
>>> romio_relpath(1234567)
'Pixels/Dir-001/Dir-234/1234567'
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import stat
import threading
from pathlib import Path, PurePosixPath

import numpy as np

from platequeue.omero._model import PixelsInfo

logger = logging.getLogger(__name__)

#: ``pixelstype.value`` -> NumPy dtype as stored on disk (big-endian).
PIXEL_DTYPES: dict[str, np.dtype] = {
    "int8": np.dtype("i1"),
    "uint8": np.dtype("u1"),
    "int16": np.dtype(">i2"),
    "uint16": np.dtype(">u2"),
    "int32": np.dtype(">i4"),
    "uint32": np.dtype(">u4"),
    "float": np.dtype(">f4"),
    "double": np.dtype(">f8"),
}

#: First bytes of a plane that was allocated but never written (OMERO's null plane).
NULL_PLANE_PATTERN = bytes([0x80, 0x7F] * 32)


class UnsafePathError(ValueError):
    """A path would leave the repository root."""


class UnwrittenPlaneError(ValueError):
    """A requested plane was never written by OMERO (null-plane pattern)."""


class PixelsFileError(ValueError):
    """A pixels file is missing or its size does not match the metadata."""


class CorruptPixelsError(PixelsFileError):
    """A pixels file's bytes do not decode (a corrupt chunk or tile): permanent, not retried."""


def pixel_dtype(pixels_type: str) -> np.dtype:
    """Big-endian NumPy dtype of an OMERO ``pixelstype.value``.

    Raises ``ValueError`` for ``bit``, ``complex``, ``double-complex`` and unknown types.
    """
    try:
        return PIXEL_DTYPES[pixels_type]
    except KeyError:
        raise ValueError(f"unsupported OMERO pixels type {pixels_type!r}") from None


def nested_relpath(kind: str, obj_id: int) -> str:
    """Repository-relative path of object *obj_id* under *kind* (``Pixels``, ``Files``...)."""
    if obj_id < 0:
        raise ValueError(f"negative id {obj_id}")
    if kind not in {"Pixels", "Files", "Thumbnails"}:
        raise ValueError(f"unknown repository folder {kind!r}")
    dirs: list[str] = []
    rest = obj_id
    while rest > 999:
        rest //= 1000
        dirs.insert(0, f"Dir-{rest % 1000:03d}")
    return "/".join([kind, *dirs, str(obj_id)])


def romio_relpath(pixels_id: int) -> str:
    """``Pixels/[Dir-XXX/...]<id>`` for a pixels id."""
    return nested_relpath("Pixels", pixels_id)


def safe_path(root: str | os.PathLike[str], relpath: str) -> Path:
    """Join *relpath* to *root*, refusing anything that resolves outside *root*.

    Absolute paths are accepted only when they already lie inside *root* (as an
    ``externalinfo.lsid`` written by OMERO may); ``..`` components are refused
    outright; symlinks are followed and must stay inside *root*.
    """
    root_path = _resolved_root(os.fspath(root))
    rel = PurePosixPath(relpath)
    if not relpath or "\x00" in relpath or ".." in rel.parts:
        _refuse(root_path, relpath, "empty, NUL or '..' component")
    if rel.is_absolute() or len(rel.parts) < 2:
        resolved = (Path(relpath) if rel.is_absolute() else root_path / relpath).resolve()
    else:
        # The folder part (``Pixels/Dir-001/Dir-002``) is shared by up to a thousand files:
        # resolve it once per process; the file itself is resolved only if it is a link.
        folder = _resolved_folder(str(root_path), str(rel.parent))
        resolved = folder / rel.name
        if os.path.islink(resolved):
            resolved = resolved.resolve()
    if not resolved.is_relative_to(root_path):
        _refuse(root_path, relpath, "outside the repository root")
    return resolved


@functools.lru_cache(maxsize=16)
def _resolved_root(root: str) -> Path:
    """The repository root, resolved once per process (every field read checks against it)."""
    return Path(root).resolve()


@functools.lru_cache(maxsize=4096)
def _resolved_folder(root: str, folder: str) -> Path:
    """A folder under the root, resolved (symlinks followed) once per process."""
    return (Path(root) / folder).resolve()


def _refuse(root: Path, relpath: str, why: str) -> None:
    logger.warning("refused repository path %r under %s: %s", relpath, root, why)
    raise UnsafePathError(f"refused path {relpath!r}: {why}")


def romio_path(root: str | os.PathLike[str], pixels_id: int) -> Path:
    """Absolute, checked path of ``Pixels/<id>`` under *root*."""
    return safe_path(root, romio_relpath(pixels_id))


def open_romio(root: str | os.PathLike[str], info: PixelsInfo,
               path: Path | None = None) -> np.memmap:
    """Memory-map ``Pixels/<id>`` read-only as ``(T, C, Z, Y, X)``, big-endian.

    *path*, when given, is the file already resolved and checked by the caller
    (:class:`~platequeue.omero._roots.AllowedRoots`); otherwise ``Pixels/<id>`` under *root*.
    """
    dtype = pixel_dtype(info.pixels_type)
    shape = (info.size_t, info.size_c, info.size_z, info.size_y, info.size_x)
    path = path if path is not None else romio_path(root, info.id)
    expected = int(np.prod(shape)) * dtype.itemsize
    try:
        st = path.stat()
    except FileNotFoundError:
        raise PixelsFileError(f"image {info.image_id}: no ROMIO file {path}") from None
    _require_regular(st, path)
    size = st.st_size
    if size != expected:
        raise PixelsFileError(
            f"image {info.image_id}: {path} has {size} bytes, metadata says {expected}"
        )
    return np.memmap(path, dtype=dtype, mode="r", shape=shape)


def _require_regular(st: os.stat_result, path: str | os.PathLike[str]) -> None:
    """A ``Pixels/<id>`` that is not a regular file (a directory, say, where a mount is
    half there) is an I/O error, retried as one, not a permanent size mismatch."""
    if not stat.S_ISREG(st.st_mode):
        code = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL
        raise OSError(code, f"{os.strerror(code)} (not a regular file)", os.fspath(path))


def check_index(info: PixelsInfo, *, z: int = 0, c: int = 0, t: int = 0) -> None:
    for name, value, size in (("z", z, info.size_z), ("c", c, info.size_c), ("t", t, info.size_t)):
        if not 0 <= value < size:
            raise ValueError(f"{name}={value} out of range [0, {size}) for image {info.image_id}")


def read_field(root: str | os.PathLike[str], info: PixelsInfo, *, t: int = 0,
               path: Path | None = None) -> np.ndarray:
    """All channels and z-planes of timepoint *t*, shape ``(C, Z, Y, X)``.

    Returns a read-only, zero-copy view of the memory map in the on-disk
    (big-endian) dtype; consumers convert (``astype('=u2')``, ``float32``).
    Only the first bytes of each plane are touched here, to detect planes that
    were never written.
    """
    check_index(info, t=t)
    field = open_romio(root, info, path)[t]
    if field.size:
        _check_planes_written(info, _bytes_of(field), field.nbytes // (info.size_c * info.size_z),
                              0, z=info.size_z, t=t)
    return field


def read_field_native(
    root: str | os.PathLike[str], info: PixelsInfo, *, t: int = 0, out: np.ndarray | None = None,
    path: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """Timepoint *t* as a native-endian ``(C, Z, Y, X)`` array.

    The field is contiguous in ``Pixels/<id>``.  Big-endian values are read in pieces of at
    most :data:`SWAP_PIECE` bytes (whole planes when they fit) into a reused per-thread
    scratch buffer that stays in the CPU cache, each piece cast to native into *out* (a
    SIMD cast, as fast as a copy; an in-place byte swap is several times slower): one kernel
    copy plus one cache-hot pass.  Single-byte types are read straight into *out*.  *out*
    may supply the buffer (native dtype, that shape, C-contiguous) to avoid allocations.
    """
    check_index(info, t=t)
    dtype = pixel_dtype(info.pixels_type)
    shape = (info.size_c, info.size_z, info.size_y, info.size_x)
    native = dtype.newbyteorder("=")
    if out is None:
        out = np.empty(shape, dtype=native)
    elif out.shape != shape or out.dtype != native or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous {native} of shape {shape}")
    path = path if path is not None else romio_path(root, info.id)
    nbytes = out.nbytes
    flat = out.reshape(-1).view(np.uint8)
    swap = dtype.itemsize > 1 and not dtype.isnative
    fd = os.open(path, _READ_FLAGS)
    try:
        st = os.fstat(fd)
        _require_regular(st, path)
        size = st.st_size
        expected = nbytes * info.size_t
        if size != expected:
            raise PixelsFileError(
                f"image {info.image_id}: {path} has {size} bytes, metadata says {expected}")
        if nbytes == 0:
            return out
        plane_bytes = nbytes // (info.size_c * info.size_z)
        if not swap:
            _pread(fd, flat.data, t * nbytes, info, path)
            _check_planes_written(info, flat.data, plane_bytes, 0, z=info.size_z, t=t)
            return out
        scratch = _scratch(min(nbytes, SWAP_PIECE))
        view, disk, dest, item = scratch.data, scratch.view(dtype), out.reshape(-1), dtype.itemsize
        for start, length in _pieces(nbytes, plane_bytes, SWAP_PIECE):
            raw = view[:length]
            _pread(fd, raw, t * nbytes + start, info, path)
            if start % plane_bytes == 0:  # a plane (or several) begins here
                _check_planes_written(info, raw, plane_bytes, start, z=info.size_z, t=t)
            first = start // item
            np.copyto(dest[first:first + length // item], disk[:length // item])
    finally:
        os.close(fd)
    return out


#: Largest piece read into the scratch buffer before its cast to native (fits in L2).
SWAP_PIECE = 512 * 1024


def _pieces(nbytes: int, plane_bytes: int, limit: int) -> list[tuple[int, int]]:
    """(start, length) pieces of a field of *nbytes*: whole planes grouped up to *limit*
    bytes, or a plane cut into *limit*-byte pieces, so that every plane begins a piece
    (*limit* is a multiple of every pixel size)."""
    if plane_bytes <= limit:
        step = limit - limit % plane_bytes
        return [(o, min(step, nbytes - o)) for o in range(0, nbytes, step)]
    return [(o, min(limit, p + plane_bytes - o)) for p in range(0, nbytes, plane_bytes)
            for o in range(p, p + plane_bytes, limit)]


def _pread(fd: int, view: memoryview, offset: int, info: PixelsInfo,
           path: str | os.PathLike[str]) -> None:
    """Fill *view* from *offset* (one call unless the kernel splits it, over 2 GiB)."""
    got, want = 0, len(view)
    while got < want:
        n = os.preadv(fd, [view[got:]], offset + got)
        if n <= 0:
            raise PixelsFileError(f"image {info.image_id}: short read of {path}")
        got += n


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def _bytes_of(array: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous *array* (a memory-mapped field or plane), without a copy."""
    return array.reshape(-1).view(np.uint8).data


def _check_planes_written(info: PixelsInfo, raw: memoryview, plane_bytes: int, start: int, *,
                          z: int, t: int) -> None:
    """Refuse (:class:`UnwrittenPlaneError`) every plane that begins in *raw* and starts with
    OMERO's null-plane pattern. *raw* holds the on-disk bytes of a field from byte *start*
    on (planes in (C, Z) order, *z* per channel); only each plane's first bytes are looked
    at (which lie in *raw*: see :func:`_pieces`)."""
    n = len(NULL_PLANE_PATTERN)
    head_end, tail_end = min(n, plane_bytes), min(2 * n, plane_bytes)
    first = -(-start // plane_bytes)
    for i in range(first, -(-(start + len(raw)) // plane_bytes)):
        off = i * plane_bytes - start
        if raw[off:off + head_end] == NULL_PLANE_PATTERN \
                and not any(raw[off + head_end:off + tail_end]):
            c, zz = divmod(i, z)
            raise UnwrittenPlaneError(
                f"image {info.image_id} (pixels {info.id}): plane z={zz} c={c} t={t} "
                "was never written (OMERO null-plane pattern)"
            )


_SCRATCH = threading.local()


def _scratch(nbytes: int) -> np.ndarray:
    """A per-thread reusable byte buffer (avoids page faults on fresh allocations)."""
    buf: np.ndarray | None = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(nbytes, dtype=np.uint8)
        _SCRATCH.buf = buf
    return buf[:nbytes]


def read_plane(
    root: str | os.PathLike[str], info: PixelsInfo, *, z: int = 0, c: int = 0, t: int = 0,
    path: Path | None = None,
) -> np.ndarray:
    """One plane, shape ``(Y, X)``, as a zero-copy big-endian view."""
    check_index(info, z=z, c=c, t=t)
    plane = open_romio(root, info, path)[t, c, z]
    if plane.size:
        _check_planes_written(info, _bytes_of(plane), plane.nbytes,
                              (c * info.size_z + z) * plane.nbytes, z=info.size_z, t=t)
    return plane
