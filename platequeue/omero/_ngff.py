"""OME-Zarr (NGFF 0.4 on zarr v2, NGFF 0.5 on zarr v3) images, read inside their folder.

NGFF 0.4 keeps ``multiscales`` at the top of the image group's attributes; 0.5 keeps it
under ``attrs["ome"]`` (with ``"version": "0.5"``) in ``zarr.json``.  Level 0 (the first
entry of ``multiscales[0].datasets``) is read.

Containment: the dataset path stored in the metadata must be relative, without ``..``, and
every file zarr opens — metadata and chunks, symlinks followed — must lie inside the
image's own folder (itself checked against the allowed roots), or the read is refused
with :class:`~platequeue.omero._roots.OutsideRootsError` before any byte of it is read.
A chunk that does not decode is a :class:`~platequeue.omero.repo.CorruptPixelsError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.abc.store import ByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import LocalStore

from platequeue.omero import _zarrdirect as direct
from platequeue.omero._model import PixelsInfo
from platequeue.omero._repo import CorruptPixelsError, PixelsFileError, UnsafePathError
from platequeue.omero._roots import AllowedRoots

DEFAULT_AXES = "tczyx"


class ContainedStore(LocalStore):
    """A read-only :class:`LocalStore` that opens only files inside its (resolved) root."""

    def __init__(self, root: Path, roots: AllowedRoots, image: int) -> None:
        super().__init__(root, read_only=True)
        self._folder = root
        self._allowed = roots
        self._image = image

    def _check(self, key: str) -> None:
        self._allowed.join(self._folder, key, image=self._image, what="OME-Zarr file",
                           within=self._folder)

    async def get(self, key: str, prototype: BufferPrototype | None = None,
                  byte_range: ByteRequest | None = None) -> Buffer | None:
        self._check(key)
        return await super().get(key, prototype, byte_range)

    def get_sync(self, key: str, *, prototype: BufferPrototype | None = None,
                 byte_range: ByteRequest | None = None) -> Buffer | None:
        self._check(key)
        return super().get_sync(key, prototype=prototype, byte_range=byte_range)

    async def get_partial_values(
            self, prototype: BufferPrototype,
            key_ranges: Iterable[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        key_ranges = list(key_ranges)
        for key, _ in key_ranges:
            self._check(key)
        return await super().get_partial_values(prototype, key_ranges)


def multiscales(attrs: dict[str, Any], image: int, path: Path) -> dict[str, Any]:
    """``multiscales[0]`` of an image group's attributes, NGFF 0.5 (``ome``) or earlier."""
    meta = attrs.get("ome") if isinstance(attrs.get("ome"), dict) else attrs
    ms = meta.get("multiscales") if isinstance(meta, dict) else None
    if not isinstance(ms, list) or not ms or not isinstance(ms[0], dict) \
            or not ms[0].get("datasets"):
        raise PixelsFileError(f"image {image}: {path} has no NGFF multiscales metadata")
    return ms[0]


def dataset_path(ms: dict[str, Any], image: int) -> str:
    ds = ms["datasets"][0]
    path = ds.get("path") if isinstance(ds, dict) else None
    if not isinstance(path, str):
        raise PixelsFileError(f"image {image}: NGFF dataset without a path")
    return path


def axes_of(ms: dict[str, Any]) -> list[str]:
    axes = ms.get("axes", DEFAULT_AXES)
    return [str(a["name"]) if isinstance(a, dict) else str(a) for a in axes]


def open_level0(path: Path, roots: AllowedRoots, image: int) -> tuple[zarr.Array, list[str]]:
    """The level-0 array of the image at *path* (already resolved and allowed), and its axes."""
    store = ContainedStore(path, roots, image)
    group = zarr.open_group(store=store, mode="r")
    ms = multiscales(dict(group.attrs.asdict()), image, path)
    rel = dataset_path(ms, image)
    roots.join(path, rel, image=image, what="NGFF dataset path", within=path)
    arr = zarr.open_array(store=store, path=rel, mode="r")
    return arr, axes_of(ms)


def read(path: Path, roots: AllowedRoots, info: PixelsInfo, t: int,
         c: int | None = None, z: int | None = None, *,
         out: np.ndarray | None = None) -> np.ndarray:
    """Level 0 of the image at *path*: the ``(C, Z, Y, X)`` field, or one ``(Y, X)`` plane,
    native-endian (into *out* when given).

    The common layout (one chunk per plane, known codecs) is read chunk by chunk
    (:mod:`platequeue.omero._zarrdirect`); any other through zarr-python.
    """
    image = info.image_id
    attrs = direct.group_attrs(path, roots, image)
    if attrs is not None:
        ms = multiscales(attrs, image, path)
        rel = dataset_path(ms, image)
        roots.join(path, rel, image=image, what="NGFF dataset path", within=path)
        got = direct.read_level(path, roots, info, rel, axes_of(ms), t, c, z, out=out)
        if got is not None:
            return got
    data = read_zarr(path, roots, info, t, c, z)
    if out is None:
        return data
    if out.shape != data.shape or out.dtype != data.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous {data.dtype} of shape {data.shape}")
    np.copyto(out, data)
    return out


def read_zarr(path: Path, roots: AllowedRoots, info: PixelsInfo, t: int,
              c: int | None = None, z: int | None = None) -> np.ndarray:
    """:func:`read` through zarr-python, whatever the layout (native-endian)."""
    arr, axes = open_level0(path, roots, info.image_id)
    pick = {"t": t, "c": c, "z": z}
    sel: tuple[Any, ...] = tuple(
        slice(None) if pick.get(ax) is None else pick[ax] for ax in axes)
    try:
        data = np.asarray(arr[sel])
    except (UnsafePathError, OSError):
        raise
    except Exception as exc:  # a codec's own error type: the chunk bytes are corrupt
        raise CorruptPixelsError(
            f"image {info.image_id}: OME-Zarr {path} does not decode: "
            f"{type(exc).__name__}: {exc}") from exc
    if c is not None and z is not None:
        out = data
    else:
        kept = [ax for ax in axes if ax != "t"]
        for ax in ("c", "z"):
            if ax not in kept:
                data = data[np.newaxis]
                kept.insert(0, ax)
        out = np.transpose(data, [kept.index(ax) for ax in ("c", "z", "y", "x")])
    want = (info.size_y, info.size_x) if c is not None and z is not None else (
        info.size_c, info.size_z, info.size_y, info.size_x)
    if out.shape != want:
        raise PixelsFileError(f"image {info.image_id}: OME-Zarr {path} level 0 gives shape "
                              f"{out.shape}, OMERO's pixels row says {want}")
    return out.astype(out.dtype.newbyteorder("="), copy=False)


def array_files(path: Path, roots: AllowedRoots, image: int) -> Iterator[tuple[str, Path]]:
    """(name relative to the image, path) of every file of the level-0 array: its metadata
    and chunks (a cheap listing: what a change to the pixels would touch)."""
    store = ContainedStore(path, roots, image)
    group = zarr.open_group(store=store, mode="r")
    rel = dataset_path(multiscales(dict(group.attrs.asdict()), image, path), image)
    folder = roots.join(path, rel, image=image, what="NGFF dataset path", within=path)
    for meta in ("zarr.json", ".zattrs", ".zgroup"):
        if (path / meta).is_file():
            yield meta, path / meta
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    yield os.path.relpath(entry.path, path), Path(entry.path)
