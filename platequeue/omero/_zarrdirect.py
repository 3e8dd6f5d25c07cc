"""Direct chunk reads of an OME-Zarr image's level 0, for the common layout.

Reading through zarr-python costs milliseconds per field (opening the group and the array
and every selection go through its event loop), far more than reading and decoding the
chunks.  For the layout OME-Zarr writers use by default, this module reads the metadata
and the chunk files itself and decodes each chunk with the array's own codec:

* zarr v2 (``.zarray``): C order, no filters, no compressor or one of
  :data:`V2_COMPRESSORS` (numcodecs, as zarr-python decodes them);
* zarr v3 (``zarr.json``): a regular chunk grid, the ``default`` or ``v2`` chunk-key
  encoding, codecs ``bytes`` optionally followed by one of :data:`V3_COMPRESSORS`, no
  storage transformers (so no sharding, no transposition, no checksums);
* a numeric data type; axes among ``t``, ``c``, ``z`` then ``y``, ``x`` last; one chunk
  per plane (chunk size 1 on every axis but ``y`` and ``x``, which the chunk spans
  whole); the level-0 shape agrees with OMERO's pixels row; every chunk file present.

For anything else :func:`group_attrs` and :func:`read_level` return ``None`` and the caller
reads through zarr-python (:mod:`platequeue.omero._ngff`), which also gives the errors for
wrong metadata.

Containment is the same as through :class:`~platequeue.omero._ngff.ContainedStore`: every
file read here (group metadata, array metadata, each chunk) is first passed through
:meth:`AllowedRoots.join` relative to the image folder, ``within`` it, and then opened
with ``O_NOFOLLOW``; a chunk that does not decode to exactly one plane is a
:class:`~platequeue.omero._repo.CorruptPixelsError`.  The parsed metadata is remembered per
process while every metadata file it came from is unchanged (size, mtime, ctime, device,
inode: one ``stat`` each per read; a file swapped for a link elsewhere is parsed, and
checked, again); chunks are checked and opened on every read.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np

from platequeue.omero._model import PixelsInfo
from platequeue.omero._repo import CorruptPixelsError, UnsafePathError
from platequeue.omero._roots import AllowedRoots

#: zarr v2 compressor ids decoded here (numcodecs, as zarr-python does).
V2_COMPRESSORS = frozenset({"blosc", "zstd", "lz4", "zlib", "gzip", "bz2", "lzma"})
#: zarr v3 bytes-to-bytes codecs decoded here, and the numcodecs codec that decodes each.
V3_COMPRESSORS: dict[str, Callable[[], Any]] = {
    "zstd": numcodecs.Zstd, "gzip": numcodecs.GZip, "blosc": numcodecs.Blosc}
_V3_TYPES = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4",
             "uint32": "u4", "int64": "i8", "uint64": "u8", "float32": "f4",
             "float64": "f8"}
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)

KeyFn = Callable[[tuple[int, ...]], str]


class _Unhandled(Exception):
    """A layout (or a missing file) this module leaves to zarr-python."""


def group_attrs(path: Path, roots: AllowedRoots, image: int) -> dict[str, Any] | None:
    """The attributes of the image group at *path*: ``zarr.json`` (v3) first, as
    zarr-python looks, else ``.zgroup`` + ``.zattrs`` (v2); ``None`` if unhandled."""
    got: dict[str, Any] | None = _cached(path, roots, image, "", _group_attrs)
    return got


def read_level(path: Path, roots: AllowedRoots, info: PixelsInfo, rel: str, axes: list[str],
               t: int, c: int | None = None, z: int | None = None, *,
               out: np.ndarray | None = None) -> np.ndarray | None:
    """The array at *rel* (a dataset path already checked) in the image at *path*
    (resolved, allowed): the ``(C, Z, Y, X)`` field of timepoint *t*, or the ``(Y, X)``
    plane (*c*, *z*), native-endian (into *out* when given); ``None`` when its layout is
    not one this module reads (nothing was written to *out* then, or only part of it)."""
    image = info.image_id
    layout = _cached(path, roots, image, rel, _array)
    if layout is None:
        return None
    shape, disk, decode, key = layout
    try:
        planes = _plane_chunks(axes, shape, info, t, c, z)
    except _Unhandled:
        return None
    y, x = shape[-2], shape[-1]
    want = (y, x) if c is not None and z is not None else (info.size_c, info.size_z, y, x)
    native = disk.newbyteorder("=")
    if out is None:
        out = np.empty(want, dtype=native)
    elif out.shape != want or out.dtype != native or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous {native} of shape {want}")
    flat = out.reshape(-1, y, x)
    plane_bytes = y * x * disk.itemsize
    for n, index in enumerate(planes):
        rel_key = f"{rel}/{key(index)}"
        chunk = roots.join_str(path, rel_key, image=image, what="OME-Zarr file", within=path)
        raw, _ = _read_file(chunk)
        if raw is None:  # a chunk never written reads as the fill value: zarr-python's job
            return None
        try:
            data = decode(raw) if decode is not None else raw
        except (UnsafePathError, OSError):
            raise
        except Exception as exc:  # a codec's own error type: the chunk bytes are corrupt
            raise CorruptPixelsError(f"image {image}: OME-Zarr {path} does not decode: "
                                     f"{type(exc).__name__}: {exc}") from exc
        got = memoryview(data).nbytes
        if got != plane_bytes:
            raise CorruptPixelsError(f"image {image}: OME-Zarr {path} does not decode: chunk "
                                     f"{rel_key} holds {got} bytes, one plane is {plane_bytes}")
        np.copyto(flat[n], np.frombuffer(data, disk).reshape(y, x))  # byte order fixed here
    return out


def _read_file(path: str) -> tuple[bytes | None, Stamp]:
    """The bytes of a file already checked against the roots, and its :func:`_stamp` as
    read (``None``, ``None`` if missing)."""
    try:
        fd = os.open(path, _FLAGS)
    except FileNotFoundError:
        return None, None
    try:
        st = os.fstat(fd)
        size, parts = st.st_size, []
        while size > 0:
            part = os.read(fd, size)
            if not part:
                break
            parts.append(part)
            size -= len(part)
        return (parts[0] if len(parts) == 1 else b"".join(parts)), _stamp(st)
    finally:
        os.close(fd)


Stamp = tuple[int, ...] | None
Json = Callable[[str], dict[str, Any] | None]

#: Parsed metadata per (image folder, dataset path): the stamps of the files it was parsed
#: from (``None``: absent), and the result (``None``: a layout left to zarr-python).
_meta: OrderedDict[tuple[str, str, str], tuple[tuple[tuple[str, Stamp], ...], Any]] = OrderedDict()
_meta_lock = threading.Lock()
_META_SIZE = 1024


def _stamp(st: os.stat_result) -> tuple[int, ...]:
    """What identifies a file's content: another file swapped in (a link elsewhere) has
    another device/inode; a rewrite changes ctime, which no one can set back."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino


def _current(path: str) -> Stamp:
    try:
        return _stamp(os.stat(path))
    except FileNotFoundError:
        return None
    except OSError:
        return (-1,)  # never equal to a stamp taken: parsed (and reported) again


def _cached(path: Path, roots: AllowedRoots, image: int, rel: str,
            parse: Callable[[Json, str], Any]) -> Any:
    """``parse(json, rel)``, where ``json(key)`` reads the metadata file *key* of the image
    (checked against the roots); remembered per process while every file it read (or found
    absent) is unchanged, so that a field read costs a ``stat`` per metadata file instead
    of reading and parsing it.  ``None`` if the layout is unhandled."""
    folder = os.fspath(path)
    cache_key = (folder, rel, parse.__name__)
    with _meta_lock:
        hit = _meta.get(cache_key)
        if hit is not None:
            _meta.move_to_end(cache_key)
    if hit is not None and all(_current(os.path.join(folder, key)) == stamp
                               for key, stamp in hit[0]):
        return hit[1]
    seen: list[tuple[str, Stamp]] = []

    def json_file(key: str) -> dict[str, Any] | None:
        checked = roots.join_str(path, key, image=image, what="OME-Zarr file", within=path)
        raw, stamp = _read_file(checked)
        seen.append((key, stamp))
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
        except ValueError:
            raise _Unhandled from None
        if not isinstance(doc, dict):
            raise _Unhandled
        return doc

    try:
        value = parse(json_file, rel)
    except _Unhandled:
        value = None
    with _meta_lock:
        _meta[cache_key] = (tuple(seen), value)
        while len(_meta) > _META_SIZE:
            _meta.popitem(last=False)
    return value


def _group_attrs(json_file: Json, _: str) -> dict[str, Any]:
    doc = json_file("zarr.json")
    if doc is not None:
        if doc.get("zarr_format") != 3 or doc.get("node_type") != "group":
            raise _Unhandled
        attrs = doc.get("attributes", {})
    else:
        if json_file(".zgroup") is None:
            raise _Unhandled
        attrs = json_file(".zattrs") or {}
    if not isinstance(attrs, dict):
        raise _Unhandled
    return attrs


def _array(json_file: Json, rel: str
           ) -> tuple[tuple[int, ...], np.dtype, Callable[[bytes], Any] | None, KeyFn]:
    """Shape, on-disk dtype, decoder and chunk-key function of the array at *rel*."""
    meta = json_file(f"{rel}/zarr.json")
    if meta is not None:
        return _v3(meta)
    meta = json_file(f"{rel}/.zarray")
    if meta is None:
        raise _Unhandled
    return _v2(meta)


def _shape(meta: dict[str, Any], key: str) -> tuple[int, ...]:
    value = meta.get(key)
    if not isinstance(value, list) or not all(type(v) is int and v > 0 for v in value):
        raise _Unhandled
    return tuple(value)


def _v2(meta: dict[str, Any]) -> tuple[tuple[int, ...], np.dtype, Callable[[bytes], Any] | None,
                                       KeyFn]:
    if meta.get("zarr_format") != 2 or meta.get("order", "C") != "C" or meta.get("filters"):
        raise _Unhandled
    shape = _shape(meta, "shape")
    if _shape(meta, "chunks") != _plane_chunk(shape):
        raise _Unhandled
    dtype = _numeric(meta.get("dtype"))
    compressor = meta.get("compressor")
    decode = None
    if compressor is not None:
        if not isinstance(compressor, dict) or compressor.get("id") not in V2_COMPRESSORS:
            raise _Unhandled
        decode = numcodecs.get_codec(dict(compressor)).decode
    sep = meta.get("dimension_separator") or "."
    if sep not in (".", "/"):
        raise _Unhandled
    return shape, dtype, decode, lambda index: sep.join(map(str, index))


def _v3(meta: dict[str, Any]) -> tuple[tuple[int, ...], np.dtype, Callable[[bytes], Any] | None,
                                       KeyFn]:
    if meta.get("zarr_format") != 3 or meta.get("node_type") != "array" \
            or meta.get("storage_transformers"):
        raise _Unhandled
    shape = _shape(meta, "shape")
    grid = meta.get("chunk_grid")
    if not isinstance(grid, dict) or grid.get("name") != "regular" \
            or not isinstance(grid.get("configuration"), dict) \
            or _shape(grid["configuration"], "chunk_shape") != _plane_chunk(shape):
        raise _Unhandled
    codecs = meta.get("codecs")
    if not isinstance(codecs, list) or not 1 <= len(codecs) <= 2 \
            or not all(isinstance(x, dict) for x in codecs) or codecs[0].get("name") != "bytes":
        raise _Unhandled
    code = _V3_TYPES.get(meta.get("data_type"))  # type: ignore[arg-type]
    if code is None:
        raise _Unhandled
    endian = (codecs[0].get("configuration") or {}).get("endian")
    if endian not in ("little", "big") and not (endian is None and code[1] == "1"):
        raise _Unhandled
    dtype = np.dtype(("<" if endian != "big" else ">") + code)
    decode = None
    if len(codecs) == 2:
        make = V3_COMPRESSORS.get(codecs[1].get("name"))
        if make is None:
            raise _Unhandled
        decode = make().decode
    return shape, dtype, decode, _v3_key(meta.get("chunk_key_encoding"))


def _v3_key(encoding: Any) -> KeyFn:
    if not isinstance(encoding, dict):
        raise _Unhandled
    name, conf = encoding.get("name"), encoding.get("configuration") or {}
    if name == "default":
        sep = conf.get("separator", "/")
        if sep in (".", "/"):
            return lambda index: sep.join(["c", *map(str, index)])
    elif name == "v2":
        sep = conf.get("separator", ".")
        if sep in (".", "/"):
            return lambda index: sep.join(map(str, index)) or "0"
    raise _Unhandled


def _numeric(value: Any) -> np.dtype:
    if not isinstance(value, str):
        raise _Unhandled
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise _Unhandled from None
    if dtype.kind not in "iuf" or dtype.fields is not None or dtype.shape:
        raise _Unhandled
    return dtype


def _plane_chunk(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The chunk shape of one chunk per plane: 1 everywhere but the last two axes."""
    if len(shape) < 2:
        raise _Unhandled
    return (1,) * (len(shape) - 2) + shape[-2:]


def _plane_chunks(axes: list[str], shape: tuple[int, ...], info: PixelsInfo, t: int,
                  c: int | None, z: int | None) -> list[tuple[int, ...]]:
    """The chunk index of each wanted plane, in (C, Z) order; unhandled unless the array's
    axes are ``[t][c][z]yx`` and its shape agrees with OMERO's pixels row."""
    if len(axes) != len(shape) or axes[-2:] != ["y", "x"] or len(set(axes)) != len(axes) \
            or not set(axes[:-2]) <= {"t", "c", "z"}:
        raise _Unhandled
    size = dict(zip(axes, shape, strict=True))
    if (size.get("c", 1), size.get("z", 1), size["y"], size["x"]) != (
            info.size_c, info.size_z, info.size_y, info.size_x) or t >= size.get("t", 1):
        raise _Unhandled  # zarr-python's path reports the mismatch
    cs = range(info.size_c) if c is None else [c]
    zs = range(info.size_z) if z is None else [z]
    at = {"t": t, "y": 0, "x": 0}
    return [tuple(at.get(a, cc if a == "c" else zz) for a in axes) for cc in cs for zz in zs]
