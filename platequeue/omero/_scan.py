"""An operator's scan of where each image's pixels come from, and whether they read here.

For every image of the chosen plates: the source that serves it in OMERO's order (NGFF,
pyramid, ROMIO, original file read by tifffile or Bio-Formats), the file, the reader and
format Bio-Formats picks, and whether a sample read (plane z=0, c=0, t=0) succeeds on this
host, with the reason when not: ``file missing``, ``outside the allowed roots``,
``unsupported pixel type``, ``Java missing``, ``Bio-Formats jar missing``, ``shape
mismatch``, ``unreadable``.  :func:`plate_problem` is the cheap check (no JVM, no pixels)
the plates page and the dry-run use before anything is queued.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import text

from platequeue.omero._bfpixels import UnsupportedPixelsType
from platequeue.omero._bioformats import ShapeMismatch, bf_available
from platequeue.omero._jvm import BioFormatsUnavailable
from platequeue.omero._metadata import OmeroCatalog
from platequeue.omero._model import PixelsInfo
from platequeue.omero._readers import RepositoryReader, Source
from platequeue.omero._repo import UnsafePathError, pixel_dtype

logger = logging.getLogger(__name__)


@dataclass
class ImageScan:
    image_id: int
    well: str
    field: int
    source: str | None
    path: str | None
    reader: str | None = None
    format: str | None = None
    readable: bool | None = None
    reason: str | None = None
    detail: str | None = None


@dataclass
class PlateScan:
    plate_id: int
    name: str
    images: list[ImageScan] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        return {"images": len(self.images),
                "readable": sum(1 for i in self.images if i.readable),
                "resolved": sum(1 for i in self.images if i.source and not i.reason),
                "sources": dict(Counter(i.source or "none" for i in self.images)),
                "problems": dict(Counter(i.reason for i in self.images if i.reason))}

    def to_dict(self) -> dict[str, Any]:
        return {"plate_id": self.plate_id, "name": self.name, "summary": self.summary,
                "images": [asdict(i) for i in self.images]}


def reason_of(exc: BaseException) -> str:
    """The operator-facing reason for a read failure."""
    msg = str(exc)
    if isinstance(exc, UnsafePathError):
        return "outside the allowed roots"
    if isinstance(exc, BioFormatsUnavailable):
        return "Java missing" if "Java runtime" in msg else "Bio-Formats jar missing"
    if isinstance(exc, UnsupportedPixelsType) or ("unsupported" in msg and "type" in msg):
        return "unsupported pixel type"
    if isinstance(exc, ShapeMismatch):
        return "shape mismatch"
    if isinstance(exc, FileNotFoundError) or "no pixels found" in msg or "missing" in msg:
        return "file missing"
    return "unreadable"


def plate_ids(catalog: OmeroCatalog, *, plate: int | None = None, screen: int | None = None
              ) -> list[int]:
    """One plate, a screen's plates, or every plate (ids ascending)."""
    if plate is not None:
        return [plate]
    sql = ("SELECT child FROM screenplatelink WHERE parent = :s ORDER BY child"
           if screen is not None else "SELECT id FROM plate ORDER BY id")
    with catalog.engine.connect() as conn:
        return [int(r[0]) for r in conn.execute(text(sql), {"s": screen})]


def scan_plates(catalog: OmeroCatalog, reader: RepositoryReader, ids: Iterable[int], *,
                sample: bool = True) -> list[PlateScan]:
    out = []
    for pid in ids:
        info = catalog.plate(pid)
        scan = PlateScan(pid, info.name if info else "?")
        wells = catalog.wells(pid)
        refs = [(w.label, f) for w in wells for f in w.fields]
        pixels = catalog.pixels_many([f.image_id for _l, f in refs])
        for label, f in refs:
            px = pixels.get(f.image_id)
            scan.images.append(scan_image(reader, px, f.image_id, label, f.field, sample=sample))
        out.append(scan)
    return out


def scan_image(reader: RepositoryReader, px: PixelsInfo | None, image_id: int, well: str,
               field_index: int, *, sample: bool = True) -> ImageScan:
    if px is None:
        return ImageScan(image_id, well, field_index, None, None, readable=False,
                         reason="no pixels row")
    try:
        kind, path = reader.source(px)
    except Exception as exc:  # noqa: BLE001  (every failure is reported, none raised)
        return ImageScan(image_id, well, field_index, None, None, readable=False,
                         reason=reason_of(exc), detail=str(exc))
    res = ImageScan(image_id, well, field_index, kind.value, str(path))
    try:
        pixel_dtype(px.pixels_type)
        if kind is Source.BIOFORMATS and sample:
            described = reader.bioformats.describe(path, px.fileset_id)
            res.reader, res.format = described.reader, described.format
        if sample:
            reader.read_plane(px)
            res.readable = True
        elif kind is Source.BIOFORMATS:
            why = bf_available(reader.bioformats.config)
            if why is not None:
                raise BioFormatsUnavailable(why)
    except Exception as exc:  # noqa: BLE001
        res.readable, res.reason, res.detail = False, reason_of(exc), str(exc)
    return res


def plate_problem(catalog: OmeroCatalog, reader: RepositoryReader, plate_id: int) -> str | None:
    """Why the plate cannot be read here (first field only, no JVM, no pixels), else None."""
    wells = catalog.wells(plate_id)
    first = next((f for w in wells for f in w.fields), None)
    if first is None:
        return None
    px = catalog.pixels_many([first.image_id]).get(first.image_id)
    res = scan_image(reader, px, first.image_id, wells[0].label, first.field, sample=False)
    return None if res.reason is None else f"{res.reason}: {res.detail or ''}".rstrip(": ")


def render(scans: list[PlateScan]) -> str:
    """Plain text: one line per plate, then one per image that does not read."""
    lines = []
    for s in scans:
        sm = s.summary
        srcs = ", ".join(f"{k} {v}" for k, v in sorted(sm["sources"].items()))
        probs = ", ".join(f"{k} {v}" for k, v in sorted(sm["problems"].items())) or "none"
        read = any(i.readable is not None for i in s.images)
        done = (f"{sm['readable']}/{sm['images']} images read here" if read else
                f"{sm['resolved']}/{sm['images']} images resolved (not read)")
        lines.append(f"plate {s.plate_id} {s.name!r}: {done}; sources: {srcs}; "
                     f"problems: {probs}")
        readers = sorted({f"{i.reader} ({i.format})" for i in s.images if i.reader})
        if readers:
            lines.append(f"  Bio-Formats: {', '.join(readers)}")
        for i in s.images:
            if i.reason:
                lines.append(f"  {i.well} field {i.field} image {i.image_id}: {i.reason}"
                             f"{' - ' + i.detail if i.detail else ''}")
    return "\n".join(lines) + "\n"
