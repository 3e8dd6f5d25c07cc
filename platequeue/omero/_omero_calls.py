"""omero-py calls for :mod:`platequeue.omero._writeback`.

Kept apart so the rest of the package never needs the optional ``omero`` extra; omero-py
itself is imported lazily inside each function.

Two layers:

* **builders** (no server): :func:`grid_columns`, :func:`mask_rois`,
  :func:`map_pairs`/:func:`well_map_annotations`, :func:`file_names` and
  :func:`is_previous_run` turn the pure specs of :mod:`platequeue.omero._annotations` into
  real ``omero.grid`` / ``omero.model`` objects (tested in
  ``tests/omero/test_omero_objects.py`` with omero-py but no server);
* :func:`write_back_with_gateway` (server): joins the user's session, saves what the
  builders made, then removes what an earlier run of the same pipeline left, and always
  detaches with ``close(hard=False)``.

Over 300 lines because it is the whole of the platform's omero-py surface, the one module
that needs the optional extra; the builders and the server call change together.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platequeue.omero._annotations import NS_BULK, NS_MAP, ColumnSpec, MaskSpec

logger = logging.getLogger(__name__)

NS_CSV = "platequeue/results/csv"
"""Namespace of the CSV copy: not ``NS_BULK``, which OMERO.web opens as an OMERO.table."""

PIPELINE_KEY = "pipeline"
"""First key of every well MapAnnotation; its value is the write-back name."""

_INT_KINDS = frozenset({"WellColumn", "ImageColumn", "LongColumn"})
_KINDS = _INT_KINDS | {"DoubleColumn", "StringColumn"}


class OmeroUnreachable(ConnectionError):
    """The OMERO server could not be reached (refused, timed out, unknown host)."""


# --------------------------------------------------------------------------- builders


def grid_columns(columns: Sequence[ColumnSpec], n_rows: int | None = None) -> list[Any]:
    """``omero.grid`` columns filled with the values of *columns*.

    Parameters
    ----------
    columns
        Specs from :func:`platequeue.omero._annotations.table_columns`; ``kind`` is one of
        ``WellColumn``, ``ImageColumn``, ``LongColumn``, ``DoubleColumn``, ``StringColumn``.
    n_rows
        When given, every column must hold exactly this many values.

    Returns
    -------
    list of omero.grid.Column
        Values as plain ``int``/``float``/``str`` (Ice refuses NumPy scalars); a
        ``StringColumn``'s size is at least the longest UTF-8 value (and at least 1).
    """
    import omero.grid

    if not columns:
        raise ValueError("an OMERO.table needs at least one column")
    out = []
    for spec in columns:
        if spec.kind not in _KINDS:
            raise ValueError(f"unsupported column kind {spec.kind!r} ({spec.name})")
        if n_rows is not None and len(spec.values) != n_rows:
            raise ValueError(f"column {spec.name!r} has {len(spec.values)} values, "
                             f"expected {n_rows}")
        cls = getattr(omero.grid, spec.kind)
        if spec.kind == "StringColumn":
            texts = ["" if v is None else str(v) for v in spec.values]
            size = max([spec.size, 1, *(len(t.encode()) for t in texts)])
            out.append(cls(spec.name, "", size, texts))
        elif spec.kind == "DoubleColumn":
            out.append(cls(spec.name, "", [math.nan if v is None else float(v)
                                           for v in spec.values]))
        else:
            if any(v is None for v in spec.values):
                raise ValueError(f"{spec.kind} {spec.name!r} has missing values")
            out.append(cls(spec.name, "", [int(v) for v in spec.values]))
    return out


def mask_rois(
    masks_by_image: Mapping[int, Sequence[MaskSpec]], *, name: str,
    the_z: int | None = 0, the_t: int | None = 0, the_c: int | None = None,
) -> list[Any]:
    """One ``RoiI`` per label, holding one ``MaskI``, linked to its image.

    Parameters
    ----------
    masks_by_image
        Image id -> masks of that image (:func:`~platequeue.omero._annotations.masks_from_labels`).
    name
        The ROI name (the write-back name; a later run replaces ROIs of that name).
    the_z, the_t, the_c
        The plane a mask lies on; None leaves it unset (OMERO: the mask applies to every
        plane along that axis).

    Returns
    -------
    list of omero.model.RoiI
        Unsaved; the mask's ``x``, ``y``, ``width``, ``height`` are ``rdouble``, ``bytes``
        the ``np.packbits`` of the cropped mask (row-major), ``textValue`` the label.
    """
    import omero.clients  # noqa: F401  (registers the omero.model *I classes)
    from omero.model import ImageI, MaskI, RoiI
    from omero.rtypes import rdouble, rint, rstring

    rois = []
    for image_id, masks in masks_by_image.items():
        for m in masks:
            if m.width <= 0 or m.height <= 0:
                raise ValueError(f"label {m.label}: empty mask box {m.width}x{m.height}")
            need = -(-m.width * m.height // 8)
            if len(m.bytes) != need:
                raise ValueError(f"label {m.label}: {len(m.bytes)} mask bytes for a "
                                 f"{m.width}x{m.height} box (expected {need})")
            shape = MaskI()
            shape.setX(rdouble(m.x))
            shape.setY(rdouble(m.y))
            shape.setWidth(rdouble(m.width))
            shape.setHeight(rdouble(m.height))
            shape.setBytes(bytes(m.bytes))
            shape.setTextValue(rstring(str(m.label)))
            for setter, value in ((shape.setTheZ, the_z), (shape.setTheT, the_t),
                                  (shape.setTheC, the_c)):
                if value is not None:
                    setter(rint(int(value)))
            roi = RoiI()
            roi.setImage(ImageI(int(image_id), False))
            roi.setName(rstring(name))
            roi.addShape(shape)
            rois.append(roi)
    return rois


def map_pairs(name: str, pairs: Iterable[tuple[str, str]]) -> list[Any]:
    """``NamedValue`` list for a well MapAnnotation: ``("pipeline", name)`` first."""
    import omero.clients  # noqa: F401
    from omero.model import NamedValue

    return [NamedValue(PIPELINE_KEY, name), *(NamedValue(str(k), str(v)) for k, v in pairs)]


def well_map_annotations(
    kv: Mapping[int, Sequence[tuple[str, str]]], *, name: str,
) -> dict[int, Any]:
    """Well id -> unsaved ``MapAnnotationI`` (ns :data:`NS_MAP`, description *name*)."""
    import omero.clients  # noqa: F401
    from omero.model import MapAnnotationI
    from omero.rtypes import rstring

    out = {}
    for well_id, pairs in kv.items():
        ann = MapAnnotationI()
        ann.setNs(rstring(NS_MAP))
        ann.setDescription(rstring(name))
        ann.setMapValue(map_pairs(name, pairs))
        out[int(well_id)] = ann
    return out


def well_annotation_links(annotations: Mapping[int, Any]) -> list[Any]:
    """Unsaved ``WellAnnotationLinkI`` objects, well (unloaded) -> its annotation."""
    import omero.clients  # noqa: F401
    from omero.model import WellAnnotationLinkI, WellI

    links = []
    for well_id, ann in annotations.items():
        link = WellAnnotationLinkI()
        link.setParent(WellI(int(well_id), False))
        link.setChild(ann)
        links.append(link)
    return links


def table_annotation_link(plate_id: int, original_file_id: int, *, name: str) -> Any:
    """Unsaved plate link to a ``FileAnnotationI`` (ns :data:`NS_BULK`) on a table file."""
    import omero.clients  # noqa: F401
    from omero.model import FileAnnotationI, OriginalFileI, PlateAnnotationLinkI, PlateI
    from omero.rtypes import rstring

    fa = FileAnnotationI()
    fa.setFile(OriginalFileI(int(original_file_id), False))
    fa.setNs(rstring(NS_BULK))
    fa.setDescription(rstring(name))
    link = PlateAnnotationLinkI()
    link.setParent(PlateI(int(plate_id), False))
    link.setChild(fa)
    return link


@dataclass(frozen=True, slots=True)
class FileNames:
    """File names of one write-back: the OMERO.table (HDF5) and the CSV copy."""

    table: str
    csv: str


def file_names(name: str) -> FileNames:
    """Safe file names from a write-back name (``"platequeue nuclei"`` -> ``platequeue_nuclei``)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "platequeue"
    return FileNames(table=f"{stem}.h5", csv=f"{stem}.csv")


def is_previous_run(ns: str | None, description: str | None, name: str,
                    pairs: Sequence[Sequence[str]] | None = None) -> bool:
    """Whether an annotation was left by an earlier write-back named *name*.

    Ours carry one of our namespaces and *name* as description; older well
    MapAnnotations are recognised by a first pair ``("pipeline", name)``.
    """
    if ns not in (NS_BULK, NS_CSV, NS_MAP):
        return False
    if (description or "") == name:
        return True
    return (ns == NS_MAP and pairs is not None and len(pairs) > 0
            and list(pairs[0]) == [PIPELINE_KEY, name])


# ---------------------------------------------------------------------- server calls


def connect(host: str, port: int, session_key: str) -> Any:
    """A ``BlitzGateway`` joined to the session *session_key* (never logged).

    Raises
    ------
    OmeroUnreachable
        The server cannot be reached (Ice gives up after ``omero.constants.CONNECTTIMEOUT``,
        5 s, on an unanswered host; a refused port fails at once).
    PermissionError
        The server rejects the session key.
    """
    import Ice
    from omero.gateway import BlitzGateway

    conn = BlitzGateway(host=host, port=port)
    try:
        ok = conn.connect(sUuid=session_key)
    except Ice.LocalException as exc:
        conn.close(hard=False)
        raise OmeroUnreachable(f"cannot reach OMERO at {host}:{port} "
                               f"({type(exc).__name__})") from exc
    if not ok:
        conn.close(hard=False)
        raise PermissionError(f"OMERO at {host}:{port} rejected the session key")
    return conn


def write_back_with_gateway(
    host: str, port: int, session_key: str, plate_id: int, rows: Sequence[Mapping[str, Any]],
    *, name: str, columns: list[ColumnSpec], csv: bytes, kv: dict[int, list[tuple[str, str]]],
    well_masks: Mapping[int, Sequence[MaskSpec]],
) -> dict[str, int]:
    """Save a table, a CSV, well key-values and masks on *plate_id*; returns created ids.

    Everything is built before connecting; the previous run's annotations and ROIs of the
    same *name* are deleted only after the new ones are saved. *well_masks* maps image
    ids to their masks.
    """
    grid = grid_columns(columns, len(rows))
    maps = well_map_annotations(kv, name=name)
    rois = mask_rois(well_masks, name=name)
    names = file_names(name)

    conn = connect(host, port, session_key)
    try:
        conn.SERVICE_OPTS.setOmeroGroup(-1)  # find the plate in any of the user's groups
        plate = conn.getObject("Plate", plate_id)
        if plate is None:
            raise LookupError(f"plate {plate_id} not visible to this session")
        conn.SERVICE_OPTS.setOmeroGroup(plate.getDetails().getGroup().getId())
        wells = list(plate.listChildren())
        well_ids = {int(w.getId()) for w in wells}
        old_annotations = _previous_annotations(plate, wells, name)
        old_rois = _previous_rois(conn, name, list(well_masks))
        update = conn.getUpdateService()

        resources = conn.c.sf.sharedResources()
        repo_id = resources.repositories().descriptions[0].getId().getValue()
        table = resources.newTable(repo_id, names.table, conn.SERVICE_OPTS)
        if table is None:
            raise RuntimeError("OMERO.tables is not available on this server")
        try:
            table.initialize(grid)
            table.addData(grid)
            orig = table.getOriginalFile()
        finally:
            table.close()
        saved = update.saveAndReturnObject(
            table_annotation_link(plate_id, orig.getId().getValue(), name=name),
            conn.SERVICE_OPTS)
        ids = {"table_file": int(orig.getId().getValue()),
               "table_annotation": int(saved.getChild().getId().getValue())}

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / names.csv
            path.write_bytes(csv)
            csv_ann = conn.createFileAnnfromLocalFile(str(path), mimetype="text/csv",
                                                      ns=NS_CSV, desc=name)
            plate.linkAnnotation(csv_ann)
            ids["csv_annotation"] = int(csv_ann.getId())

        foreign = sorted(set(maps) - well_ids)
        if foreign:
            logger.warning("skipping key-values for wells %s: not on plate %s", foreign, plate_id)
        links = well_annotation_links({w: a for w, a in maps.items() if w in well_ids})
        if links:
            update.saveAndReturnArray(links, conn.SERVICE_OPTS)
        ids["map_annotations"] = len(links)
        if rois:
            update.saveAndReturnArray(rois, conn.SERVICE_OPTS)
        ids["rois"] = len(rois)

        if old_annotations:
            conn.deleteObjects("Annotation", old_annotations, wait=True)
        if old_rois:
            conn.deleteObjects("Roi", old_rois, wait=True)
        if old_annotations or old_rois:
            logger.info("removed %d annotations and %d ROIs of an earlier %r run",
                        len(old_annotations), len(old_rois), name)
        logger.info("wrote %d rows back to plate %s as %r", len(rows), plate_id, name)
        return ids
    finally:
        conn.close(hard=False)  # never hard: that would end the user's own session


def _previous_annotations(plate: Any, wells: Iterable[Any], name: str) -> list[int]:
    old = [int(a.getId()) for ns in (NS_BULK, NS_CSV) for a in plate.listAnnotations(ns=ns)
           if is_previous_run(ns, a.getDescription(), name)]
    for well in wells:
        for a in well.listAnnotations(ns=NS_MAP):
            if is_previous_run(NS_MAP, a.getDescription(), name, a.getValue() or []):
                old.append(int(a.getId()))
    return old


def _previous_rois(conn: Any, name: str, image_ids: list[int]) -> list[int]:
    if not image_ids:
        return []
    from omero.sys import ParametersI

    params = ParametersI()
    params.addIds([int(i) for i in image_ids])
    params.addString("name", name)
    found = conn.getQueryService().findAllByQuery(
        "select r from Roi r where r.image.id in (:ids) and r.name = :name",
        params, conn.SERVICE_OPTS)
    return [int(r.getId().getValue()) for r in found]
