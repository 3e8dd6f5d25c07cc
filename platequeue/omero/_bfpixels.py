"""Bio-Formats planes to NumPy: pixel type, endianness, RGB interleaving, dimension order.

A Bio-Formats plane ``no = reader.getIndex(z, c_eff, t)`` holds ``rgb =
getRGBChannelCount()`` samples per pixel, interleaved (``Y, X, S``) or not
(``S, Y, X``); OMERO's channel ``c`` is sample ``c % rgb`` of effective channel
``c // rgb``.  Bytes are little- or big-endian per ``isLittleEndian()``.  The result
is a native-endian ``(C, Z, Y, X)`` array, whatever the file's dimension order.
Planes bigger than *tile_bytes* are read in strips of whole rows, so no single
Java array exceeds the 2 GB limit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Bio-Formats pixel type names (``FormatTools.getPixelTypeString``) -> NumPy dtype.
BF_DTYPES: dict[str, str] = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2",
                             "int32": "i4", "uint32": "u4", "float": "f4", "double": "f8"}
JAVA_ARRAY_LIMIT = 2**31 - 64


class UnsupportedPixelsType(ValueError):
    """A Bio-Formats pixel type the pipelines cannot take (bit)."""


def dtype_of(reader: Any) -> np.dtype:
    """The file's dtype (with its endianness) for the reader's current series."""
    from loci.formats import FormatTools

    name = str(FormatTools.getPixelTypeString(reader.getPixelType()))
    if name not in BF_DTYPES:
        raise UnsupportedPixelsType(f"unsupported pixel type {name!r}")
    return np.dtype(("<" if reader.isLittleEndian() else ">") + BF_DTYPES[name])


def shape_of(reader: Any) -> tuple[int, int, int, int, int]:
    """``(T, C, Z, Y, X)`` of the reader's current series, C counting RGB samples."""
    return (int(reader.getSizeT()), int(reader.getSizeC()), int(reader.getSizeZ()),
            int(reader.getSizeY()), int(reader.getSizeX()))


def read_field(reader: Any, t: int, *, tile_bytes: int,
               channels: range | None = None, zs: range | None = None) -> np.ndarray:
    """Timepoint *t* of the current series as native ``(C, Z, Y, X)``."""
    _, size_c, size_z, size_y, size_x = shape_of(reader)
    dtype = dtype_of(reader)
    rgb = max(1, int(reader.getRGBChannelCount()))
    cs = channels if channels is not None else range(size_c)
    zr = zs if zs is not None else range(size_z)
    out = np.empty((len(cs), len(zr), size_y, size_x), dtype=dtype.newbyteorder("="))
    limit = min(tile_bytes, JAVA_ARRAY_LIMIT)
    row_bytes = size_x * rgb * dtype.itemsize
    rows = max(1, min(size_y, limit // max(1, row_bytes)))
    buffers: dict[int, Any] = {}
    interleaved = bool(reader.isInterleaved())
    for ci, c in enumerate(cs):
        for zi, z in enumerate(zr):
            no = int(reader.getIndex(z, c // rgb, t))
            for y0 in range(0, size_y, rows):
                h = min(rows, size_y - y0)
                buf = buffers.get(h)
                if buf is None:
                    buf = buffers[h] = _java_bytes(h * row_bytes)
                reader.openBytes(no, buf, 0, y0, size_x, h)
                _copy_strip(buf, dtype, out[ci, zi, y0:y0 + h], rgb=rgb, sample=c % rgb,
                            interleaved=interleaved)
    return out


def _copy_strip(buf: Any, dtype: np.dtype, target: np.ndarray, *, rgb: int, sample: int,
                interleaved: bool) -> None:
    """Copy a Java ``byte[]`` strip into *target* ``(h, X)``.

    JPype exports a Java array's bytes as a snapshot that stays shared while any view of
    it lives, so every view is dropped (and the memoryview released) before the next read.
    """
    mv = memoryview(buf)
    strip = np.frombuffer(mv, dtype=dtype)
    h, w = target.shape
    if rgb > 1:
        strip = (strip.reshape(h, w, rgb)[:, :, sample] if interleaved
                 else strip.reshape(rgb, h, w)[sample])
    target[...] = strip.reshape(h, w)
    del strip
    mv.release()


def _java_bytes(n: int) -> Any:
    import jpype

    return jpype.JArray(jpype.JByte)(n)
