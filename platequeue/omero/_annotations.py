"""What a write-back puts in OMERO, built without a server: OMERO.table columns, the CSV,
per-well key-value pairs and masks (plain Python/NumPy, tested without omero-py).

The server calls live in :mod:`platequeue.omero._writeback`, which imports omero-py
lazily (the optional ``omero`` extra) and:

* joins the user's session: ``BlitzGateway(host=, port=)``, ``connect(sUuid=key)``,
  and always finishes with ``close(hard=False)`` (the default ``hard=True``
  would kill the user's own session);
* removes the annotations an earlier run of the same pipeline left on the plate
  (same namespace and name prefix);
* creates the table with ``sharedResources().newTable``, columns from
  ``omero.grid``, links a ``FileAnnotation`` (ns
  ``openmicroscopy.org/omero/bulk_annotations``) to the plate, attaches the CSV
  and one ``MapAnnotation`` per well (ns ``openmicroscopy.org/omero/client/mapAnnotation``).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

NS_BULK = "openmicroscopy.org/omero/bulk_annotations"
NS_MAP = "openmicroscopy.org/omero/client/mapAnnotation"
WELL_KEY = "well_id"
IMAGE_KEY = "image_id"


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One OMERO.table column: ``kind`` is the ``omero.grid`` class name."""

    kind: str
    name: str
    values: list[Any]
    size: int = 0  # StringColumn byte width


@dataclass(frozen=True, slots=True)
class MaskSpec:
    """An OMERO mask: box origin/size and ``np.packbits`` of the cropped mask."""

    label: int
    x: int
    y: int
    width: int
    height: int
    bytes: bytes


def _ordered_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    return list(keys)


def table_columns(rows: Sequence[Mapping[str, Any]]) -> list[ColumnSpec]:
    """Columns for an OMERO.table from measurement rows (dicts).

    ``well_id`` becomes a ``WellColumn`` "Well", ``image_id`` an ``ImageColumn``
    "Image"; other keys become ``LongColumn`` (ints, bools), ``DoubleColumn``
    (floats, or ints with gaps -> NaN) or ``StringColumn`` (anything else).
    """
    if not rows:
        raise ValueError("no measurement rows")
    cols: list[ColumnSpec] = []
    for key in _ordered_keys(rows):
        values = [r.get(key) for r in rows]
        if key in (WELL_KEY, IMAGE_KEY):
            if any(v is None for v in values):
                raise ValueError(f"{key} missing in some rows")
            kind, name = ("WellColumn", "Well") if key == WELL_KEY else ("ImageColumn", "Image")
            cols.append(ColumnSpec(kind, name, [int(v) for v in values if v is not None]))
            continue
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, bool | int | np.integer) for v in present):
            if len(present) == len(values):
                cols.append(ColumnSpec("LongColumn", key, [int(v) for v in present]))
            else:
                cols.append(ColumnSpec("DoubleColumn", key,
                                       [math.nan if v is None else float(v) for v in values]))
        elif present and all(isinstance(v, int | float | np.number) for v in present):
            cols.append(ColumnSpec("DoubleColumn", key,
                                   [math.nan if v is None else float(v) for v in values]))
        else:
            texts = ["" if v is None else str(v) for v in values]
            width = max([len(t.encode()) for t in texts] + [1])
            cols.append(ColumnSpec("StringColumn", key, texts, size=width))
    return cols


def csv_bytes(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """UTF-8 CSV of *rows* (header: union of keys in first-seen order)."""
    buf = io.StringIO()
    keys = _ordered_keys(rows)
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _fmt(r.get(k)) for k in keys})
    return buf.getvalue().encode()


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        return f"{float(value):.9g}"
    return str(value)


def well_key_values(
    rows: Iterable[Mapping[str, Any]], *, skip: Iterable[str] = (WELL_KEY, IMAGE_KEY, "field")
) -> dict[int, list[tuple[str, str]]]:
    """Per well, ``(key, value)`` pairs for a MapAnnotation.

    Numeric features are summed over a well's rows when named ``*count*`` and
    averaged otherwise; strings keep their first value.
    """
    skip_set = set(skip)
    per_well: dict[int, dict[str, list[Any]]] = {}
    for r in rows:
        feats = per_well.setdefault(int(r[WELL_KEY]), {})
        for k, v in r.items():
            if k not in skip_set and v is not None:
                feats.setdefault(k, []).append(v)
    out: dict[int, list[tuple[str, str]]] = {}
    for wid, feats in per_well.items():
        pairs = []
        for k, vs in feats.items():
            if all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in vs):
                agg = float(np.sum(vs)) if "count" in k else float(np.mean(vs))
                pairs.append((k, _fmt(int(agg) if agg.is_integer() else agg)))
            else:
                pairs.append((k, str(vs[0])))
        out[wid] = pairs
    return out


def encode_mask(mask: np.ndarray, *, label: int = 1) -> MaskSpec | None:
    """Crop a 2-D boolean *mask* to its bounding box and ``np.packbits`` it (row-major)."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (Y, X), got shape {m.shape}")
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        return None
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    packed = np.packbits(m[y0:y1, x0:x1].ravel()).tobytes()
    return MaskSpec(label, x0, y0, x1 - x0, y1 - y0, packed)


def decode_mask(spec: MaskSpec) -> np.ndarray:
    """Inverse of :func:`encode_mask`: the cropped ``(height, width)`` boolean mask."""
    n = spec.width * spec.height
    bits = np.unpackbits(np.frombuffer(spec.bytes, dtype=np.uint8))[:n]
    return bits.reshape(spec.height, spec.width).astype(bool)


def masks_from_labels(labels: np.ndarray) -> list[MaskSpec]:
    """One :class:`MaskSpec` per non-zero label of a 2-D label image."""
    from scipy import ndimage

    lab = np.asarray(labels)
    out = []
    for idx, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None:
            continue
        spec = encode_mask(lab[sl] == idx, label=idx)
        if spec is not None:
            out.append(MaskSpec(idx, spec.x + sl[1].start, spec.y + sl[0].start,
                                spec.width, spec.height, spec.bytes))
    return out
