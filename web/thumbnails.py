"""Plate thumbnails for the plates list: the first readable field, every channel in its
conventional colour with an automatic window, about 240 pixels wide, as PNG.

Rendered once from the platform's reader and cached on disk under
``$PLATEQUEUE_HOME/cache/thumbnails`` (one file per plate and pixels id, so new images give
a new file); the folder keeps at most :data:`MAX_FILES` thumbnails, dropping the least
recently written.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from platequeue.omero import PixelsInfo, PlateInfo
from platequeue.platform import Platform
from web import image_render as ir
from web.pages_preview import png_rgb

log = logging.getLogger(__name__)

WIDTH = 240
MAX_FILES = 500


def cache_dir(platform: Platform) -> Path:
    return Path(platform.settings.home) / "cache" / "thumbnails"


def render_thumbnail(planes: object, names: tuple[str, ...]) -> bytes:
    import numpy as np

    data = np.asarray(planes)
    _, size_y, size_x = data.shape
    specs = [ir.ChannelSpec(i, _rgb(ir.default_colour(names[i] if i < len(names) else "", i)),
                            None, None) for i in range(data.shape[0])]
    step = max(1, -(-size_x // WIDTH))
    reg = ir.Region(0, 0, size_x, size_y, step)
    return png_rgb(ir.compose(data, specs, ir.channel_stats(data), reg, None))


def _rgb(hexa: str) -> tuple[int, int, int]:
    return int(hexa[0:2], 16), int(hexa[2:4], 16), int(hexa[4:6], 16)


def thumbnail_png(platform: Platform, plate: PlateInfo, pixels: PixelsInfo) -> bytes:
    """The cached thumbnail, rendering (and caching) it on a miss."""
    folder = cache_dir(platform)
    path = folder / f"{plate.id}-{pixels.id}.png"
    try:
        return path.read_bytes()
    except OSError:
        pass
    field = platform.read_field(pixels, native=True)
    png = render_thumbnail(ir.projection(field), plate.channels)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(png)
        os.replace(tmp, path)
        _trim(folder)
    except OSError as exc:  # a read-only home still shows thumbnails, uncached
        log.warning("cannot cache the thumbnail of plate %d: %s", plate.id, exc)
    return png


def _trim(folder: Path) -> None:
    files = sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime)
    for old in files[: max(0, len(files) - MAX_FILES)]:
        old.unlink(missing_ok=True)
