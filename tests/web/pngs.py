"""Decode the PNGs the app renders (8-bit RGB, filter 0 on every row) into NumPy arrays, so
tests compare pixels rather than bytes."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def decode_rgb(data: bytes) -> np.ndarray:
    """``(H, W, 3)`` uint8 of an 8-bit RGB PNG written with filter type 0."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if tag == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 2), (depth, colour)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width * 3 + 1)
    assert not rows[:, 0].any(), "only filter type 0 is decoded here"
    return rows[:, 1:].reshape(height, width, 3)
