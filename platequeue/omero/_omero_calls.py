"""omero-py calls for :mod:`platequeue.omero.writeback` (imported only when omero-py is).

Kept apart so the rest of the package never needs the optional ``omero`` extra.
Untested here (no OMERO server); ``tests/omero/test_writeback.py`` runs it when
``OMERO_HOST`` and a session key are given.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from platequeue.omero.writeback import NS_BULK, NS_MAP, ColumnSpec, MaskSpec

logger = logging.getLogger(__name__)


def write_back_with_gateway(
    host: str, port: int, session_key: str, plate_id: int, rows: Sequence[Mapping[str, Any]],
    *, name: str, columns: list[ColumnSpec], csv: bytes, kv: dict[int, list[tuple[str, str]]],
    well_masks: Mapping[int, Sequence[MaskSpec]],
) -> dict[str, int]:
    import omero.grid
    from omero.gateway import BlitzGateway, MapAnnotationWrapper
    from omero.model import (
        FileAnnotationI,
        ImageI,
        MaskI,
        OriginalFileI,
        PlateAnnotationLinkI,
        PlateI,
        RoiI,
    )
    from omero.rtypes import rdouble, rint, rstring

    conn = BlitzGateway(host=host, port=port)
    if not conn.connect(sUuid=session_key):
        raise PermissionError("OMERO session key rejected")
    try:
        plate = conn.getObject("Plate", plate_id)
        if plate is None:
            raise LookupError(f"plate {plate_id} not visible to this session")
        conn.SERVICE_OPTS.setOmeroGroup(plate.getDetails().getGroup().getId())
        _remove_previous(conn, plate, name)
        grid = []
        for spec in columns:
            cls = getattr(omero.grid, spec.kind)
            if spec.kind == "StringColumn":
                grid.append(cls(spec.name, "", spec.size, spec.values))
            else:
                grid.append(cls(spec.name, "", spec.values))
        resources = conn.c.sf.sharedResources()
        repo_id = resources.repositories().descriptions[0].getId().getValue()
        table = resources.newTable(repo_id, f"{name}.h5", conn.SERVICE_OPTS)
        try:
            table.initialize(grid)
            table.addData(grid)
            orig = table.getOriginalFile()
        finally:
            table.close()
        fa = FileAnnotationI()
        fa.setFile(OriginalFileI(orig.getId().getValue(), False))
        fa.setNs(rstring(NS_BULK))
        fa.setDescription(rstring(name))
        link = PlateAnnotationLinkI()
        link.setParent(PlateI(plate_id, False))
        link.setChild(fa)
        saved = conn.getUpdateService().saveAndReturnObject(link, conn.SERVICE_OPTS)
        ids = {"table_file": int(orig.getId().getValue()),
               "table_annotation": int(saved.getChild().getId().getValue())}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.csv"
            path.write_bytes(csv)
            csv_ann = conn.createFileAnnfromLocalFile(str(path), mimetype="text/csv", ns=NS_BULK,
                                                      desc=name)
            plate.linkAnnotation(csv_ann)
            ids["csv_annotation"] = int(csv_ann.getId())
        for well_id, pairs in kv.items():
            well = conn.getObject("Well", well_id)
            if well is None:
                continue
            ann = MapAnnotationWrapper(conn)
            ann.setNs(NS_MAP)
            ann.setValue([["pipeline", name], *[[k, v] for k, v in pairs]])
            ann.save()
            well.linkAnnotation(ann)
        for image_id, masks in well_masks.items():
            roi = RoiI()
            roi.setImage(ImageI(image_id, False))
            roi.setName(rstring(name))
            for m in masks:
                shape = MaskI()
                shape.setX(rdouble(m.x))
                shape.setY(rdouble(m.y))
                shape.setWidth(rdouble(m.width))
                shape.setHeight(rdouble(m.height))
                shape.setBytes(m.bytes)
                shape.setTextValue(rstring(str(m.label)))
                shape.setTheZ(rint(0))
                shape.setTheT(rint(0))
                roi.addShape(shape)
            conn.getUpdateService().saveAndReturnObject(roi, conn.SERVICE_OPTS)
        logger.info("wrote %d rows back to plate %s as %r", len(rows), plate_id, name)
        return ids
    finally:
        conn.close(hard=False)  # never hard: that would end the user's own session


def _remove_previous(conn: Any, plate: Any, name: str) -> None:
    old = [a.getId() for a in plate.listAnnotations(ns=NS_BULK)
           if (a.getDescription() or "") == name]
    for well in plate.listChildren():
        for a in well.listAnnotations(ns=NS_MAP):
            values = a.getValue() or []
            if values and list(values[0]) == ["pipeline", name]:
                old.append(a.getId())
    if old:
        conn.deleteObjects("Annotation", old, wait=True)
        logger.info("removed %d annotations of an earlier %r run", len(old), name)
