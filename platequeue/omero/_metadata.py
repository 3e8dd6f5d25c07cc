"""Read plates, wells, fields and pixels metadata from an OMERO database.

:class:`OmeroCatalog` runs plain SQL against OMERO's real table and column names,
so it works on a production OMERO PostgreSQL database through a read-only role
as well as on the fixture (:mod:`platequeue.demo`, SQLite or PostgreSQL).
Per-user listings apply OMERO's read rules (:mod:`platequeue.omero._permissions`).

Over 300 lines on purpose: it is one class, and each method is one SQL statement against
OMERO's schema; keeping every query in one place is what lets a reader check them all
against OMERO's real tables at once.

Example
-------
>>> cat = OmeroCatalog(engine)                                  # doctest: +SKIP
>>> user = cat.find_user("demo")
>>> plates = cat.plates_for_user(user.id)
>>> wells = cat.wells(plates[0].id)
>>> info = cat.pixels(wells[0].fields[0].image_id)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, RowMapping

from platequeue.omero._model import (
    NGFF_ENTITY_TYPE,
    Experimenter,
    FieldRef,
    PixelsInfo,
    PlateInfo,
    WellRef,
)
from platequeue.omero._permissions import admin_sql, can_read, readable_sql

__all__ = [
    "Experimenter",
    "FieldRef",
    "OmeroCatalog",
    "OmeroNotFoundError",
    "PixelsInfo",
    "PlateInfo",
    "WellRef",
    "well_label",
]

logger = logging.getLogger(__name__)


class OmeroNotFoundError(LookupError):
    """The requested OMERO object does not exist."""


def _letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (spreadsheet style)."""
    out = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(ord("A") + rem) + out
    return out


def well_label(
    row: int,
    column: int,
    *,
    row_naming: str | None = "letter",
    column_naming: str | None = "number",
) -> str:
    """Well label from 0-based *row*/*column* and the plate's naming conventions.

    OMERO's defaults (``rownamingconvention`` letter, ``columnnamingconvention``
    number) give "A1", "B12", "P24", "AF48".  When both axes are numbers the
    parts are joined with a dash ("3-12") so labels stay unambiguous.
    """
    if row < 0 or column < 0:
        raise ValueError(f"negative well position ({row}, {column})")
    r_num = (row_naming or "letter").lower() == "number"
    c_letter = (column_naming or "number").lower() == "letter"
    r = str(row + 1) if r_num else _letters(row)
    c = _letters(column) if c_letter else str(column + 1)
    return f"{r}-{c}" if r_num and not c_letter else f"{r}{c}"


_PLATE_SQL = """
SELECT p.id, p.name, p."rows" AS nrows, p.columns AS ncols,
       p.rownamingconvention, p.columnnamingconvention, p.group_id, p.owner_id,
       (SELECT s.id FROM screenplatelink l JOIN screen s ON s.id = l.parent
         WHERE l.child = p.id ORDER BY l.id LIMIT 1) AS screen_id,
       (SELECT s.name FROM screenplatelink l JOIN screen s ON s.id = l.parent
         WHERE l.child = p.id ORDER BY l.id LIMIT 1) AS screen_name,
       (SELECT count(*) FROM well w WHERE w.plate = p.id) AS nwells,
       (SELECT max(w."row") FROM well w WHERE w.plate = p.id) AS maxrow,
       (SELECT max(w."column") FROM well w WHERE w.plate = p.id) AS maxcol,
       (SELECT max(ws.well_index) FROM wellsample ws JOIN well w ON w.id = ws.well
         WHERE w.plate = p.id) AS maxfield,
       (SELECT min(ws.image) FROM wellsample ws JOIN well w ON w.id = ws.well
         WHERE w.plate = p.id) AS first_image
  FROM plate p
"""

_CHANNELS_SQL = """
SELECT c.pixels_index, lc.name
  FROM pixels px
  JOIN channel c ON c.pixels = px.id
  JOIN logicalchannel lc ON lc.id = c.logicalchannel
 WHERE px.image = :image AND px.image_index = 0
 ORDER BY c.pixels_index
"""

_WELLS_SQL = """
SELECT w.id AS well_id, w.plate, w."row" AS wrow, w."column" AS wcol,
       p.rownamingconvention, p.columnnamingconvention,
       ws.well_index, ws.image, ws.plateacquisition, px.id AS pixels_id
  FROM well w
  JOIN plate p ON p.id = w.plate
  LEFT JOIN wellsample ws ON ws.well = w.id
  LEFT JOIN pixels px ON px.image = ws.image AND px.image_index = 0
"""

_PIXELS_SQL = f"""
SELECT px.id, px.image AS image_id, i.name AS image_name,
       px.sizex, px.sizey, px.sizez, px.sizec, px.sizet,
       pt.value AS pixels_type, d.value AS dimension_order,
       px.path, px.name, px.repo, i.series, i.fileset AS fileset_id,
       (SELECT e.lsid FROM externalinfo e
         WHERE e.id = i.external_id AND e.entitytype = '{NGFF_ENTITY_TYPE}') AS ngff_path,
       i.group_id, i.owner_id
  FROM pixels px
  JOIN image i ON i.id = px.image
  JOIN pixelstype pt ON pt.id = px.pixelstype
  JOIN dimensionorder d ON d.id = px.dimensionorder
"""


class OmeroCatalog:
    """Read-only access to OMERO metadata through a SQLAlchemy *engine*."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- users -------------------------------------------------------------
    def find_user(self, omename_or_email: str) -> Experimenter | None:
        """The experimenter with this ``omename``, else the one with this e-mail.

        E-mail matching ignores case; an e-mail shared by several experimenters
        matches nobody (it cannot identify one person).
        """
        key = omename_or_email.strip()
        if not key:
            return None
        sql = "SELECT e.id, e.omename, e.email FROM experimenter e "
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql + "WHERE e.omename = :key"), {"key": key})
            found = [dict(r._mapping) for r in rows]
            if not found:
                rows = conn.execute(text(sql + "WHERE lower(e.email) = lower(:key)"), {"key": key})
                found = [dict(r._mapping) for r in rows]
                if len(found) > 1:
                    logger.warning("e-mail %r matches %d experimenters", key, len(found))
                    return None
            if not found:
                return None
            row = found[0]
            adm = bool(conn.execute(text(f"SELECT {admin_sql()}"), {"uid": row["id"]}).scalar())
        return Experimenter(int(row["id"]), str(row["omename"]), row["email"], adm)

    def find_by_identity(self, *, omename: str | None = None,
                         email: str | None = None) -> Experimenter | None:
        """Sign-in mapping: the experimenter whose ``omename`` is exactly *omename*, else
        the one (and only one) whose e-mail is *email* (case ignored). Unlike
        :meth:`find_user`, a user name is never matched against e-mail addresses."""
        with self.engine.connect() as conn:
            uid = None
            if omename and omename.strip():
                uid = conn.execute(text("SELECT id FROM experimenter WHERE omename = :k"),
                                   {"k": omename.strip()}).scalar()
            if uid is None and email and email.strip():
                ids = conn.execute(text("SELECT id FROM experimenter "
                                        "WHERE lower(email) = lower(:k)"),
                                   {"k": email.strip()}).scalars().all()
                uid = ids[0] if len(ids) == 1 else None
        return None if uid is None else self.user(int(uid))

    def user(self, user_id: int) -> Experimenter | None:
        """The experimenter with this id."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT e.id, e.omename, e.email, {admin_sql()} AS adm "
                     "FROM experimenter e WHERE e.id = :uid"),
                {"uid": user_id},
            ).mappings().first()
        if row is None:
            return None
        return Experimenter(int(row["id"]), str(row["omename"]), row["email"], bool(row["adm"]))

    # -- plates ------------------------------------------------------------
    def plates_for_user(self, user_id: int) -> list[PlateInfo]:
        """Plates *user_id* may read, ordered by id."""
        sql = _PLATE_SQL + f" WHERE {readable_sql('p')} ORDER BY p.id"
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), {"uid": user_id}).mappings().all()
            return [self._plate_info(conn, r) for r in rows]

    def plate(self, plate_id: int) -> PlateInfo | None:
        """A plate by id, without a permission check (see :meth:`can_read_plate`)."""
        with self.engine.connect() as conn:
            row = conn.execute(text(_PLATE_SQL + " WHERE p.id = :pid"), {"pid": plate_id})
            found = row.mappings().first()
            return None if found is None else self._plate_info(conn, found)

    def can_read_plate(self, user_id: int, plate_id: int) -> bool:
        """Whether *user_id* may read plate *plate_id* (OMERO's rules)."""
        with self.engine.connect() as conn:
            return can_read(conn, user_id, "plate", plate_id)

    def screen_plate_ids(self, user_id: int, screen_id: int) -> list[int] | None:
        """The plates of screen *screen_id* that *user_id* may read (ids ascending), or None
        when the user may not read the screen itself (or there is no such screen)."""
        sql = ("SELECT p.id FROM plate p JOIN screenplatelink l ON l.child = p.id "
               f"WHERE l.parent = :sid AND {readable_sql('p')} ORDER BY p.id")
        with self.engine.connect() as conn:
            if not can_read(conn, user_id, "screen", screen_id):  # False for no such screen
                return None
            return sorted({int(r[0]) for r in conn.execute(
                text(sql), {"sid": screen_id, "uid": user_id})})

    def can_read_image(self, user_id: int, image_id: int) -> bool:
        """Whether *user_id* may read image *image_id* (OMERO's rules)."""
        with self.engine.connect() as conn:
            return can_read(conn, user_id, "image", image_id)

    def _plate_info(self, conn: Connection, r: RowMapping) -> PlateInfo:
        channels: tuple[str, ...] = ()
        if r["first_image"] is not None:
            rows = conn.execute(text(_CHANNELS_SQL), {"image": r["first_image"]}).all()
            channels = tuple(
                str(name) if name else f"C{int(idx)}" for idx, name in rows
            )
        nrows = r["nrows"] if r["nrows"] is not None else _plus_one(r["maxrow"])
        ncols = r["ncols"] if r["ncols"] is not None else _plus_one(r["maxcol"])
        return PlateInfo(
            id=int(r["id"]),
            name=str(r["name"]),
            rows=int(nrows),
            columns=int(ncols),
            wells=int(r["nwells"]),
            fields=_plus_one(r["maxfield"]),
            channels=channels,
            screen_id=None if r["screen_id"] is None else int(r["screen_id"]),
            screen_name=r["screen_name"],
            group_id=int(r["group_id"]),
            owner_id=int(r["owner_id"]),
        )

    # -- wells -------------------------------------------------------------
    def wells(self, plate_id: int) -> list[WellRef]:
        """Wells present on the plate, by row then column, with their fields."""
        sql = _WELLS_SQL + ' WHERE w.plate = :pid ORDER BY w."row", w."column", w.id, ws.well_index'
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), {"pid": plate_id}).mappings().all()
        return _group_wells(rows)

    def well(self, well_id: int) -> WellRef | None:
        """One well by id, with its fields."""
        sql = _WELLS_SQL + " WHERE w.id = :wid ORDER BY ws.well_index"
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), {"wid": well_id}).mappings().all()
        wells = _group_wells(rows)
        return wells[0] if wells else None

    # -- pixels ------------------------------------------------------------
    def pixels(self, image_id: int) -> PixelsInfo:
        """The (first) pixels of *image_id*; ``OmeroNotFoundError`` if none."""
        return self._pixels(" WHERE px.image = :key AND px.image_index = 0", image_id)

    def pixels_by_id(self, pixels_id: int) -> PixelsInfo:
        """The pixels row *pixels_id*; ``OmeroNotFoundError`` if none."""
        return self._pixels(" WHERE px.id = :key", pixels_id)

    def pixels_many(self, image_ids: Sequence[int]) -> dict[int, PixelsInfo]:
        """Pixels of several images at once, keyed by image id (missing ones left out)."""
        out: dict[int, PixelsInfo] = {}
        ids = list(dict.fromkeys(int(i) for i in image_ids))
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join(f":i{n}" for n in range(len(chunk)))
                params: dict[str, Any] = {f"i{n}": v for n, v in enumerate(chunk)}
                sql = _PIXELS_SQL + f" WHERE px.image_index = 0 AND px.image IN ({marks})"
                for r in conn.execute(text(sql), params).mappings():
                    info = _pixels_info(r)
                    out[info.image_id] = info
        return out

    def _pixels(self, where: str, key: int) -> PixelsInfo:
        with self.engine.connect() as conn:
            row = conn.execute(text(_PIXELS_SQL + where), {"key": key}).mappings().first()
        if row is None:
            raise OmeroNotFoundError(f"no pixels for {where.split()[1]} = {key}")
        return _pixels_info(row)


def _plus_one(value: Any) -> int:
    return 0 if value is None else int(value) + 1


def _pixels_info(r: RowMapping) -> PixelsInfo:
    return PixelsInfo(
        id=int(r["id"]),
        image_id=int(r["image_id"]),
        image_name=str(r["image_name"]),
        size_x=int(r["sizex"]),
        size_y=int(r["sizey"]),
        size_z=int(r["sizez"]),
        size_c=int(r["sizec"]),
        size_t=int(r["sizet"]),
        pixels_type=str(r["pixels_type"]),
        dimension_order=str(r["dimension_order"]),
        path=r["path"],
        name=r["name"],
        repo=r["repo"],
        series=int(r["series"] or 0),
        fileset_id=None if r["fileset_id"] is None else int(r["fileset_id"]),
        ngff_path=r["ngff_path"],
        group_id=int(r["group_id"]),
        owner_id=int(r["owner_id"]),
    )


def _group_wells(rows: Iterable[RowMapping]) -> list[WellRef]:
    wells: dict[int, dict[str, Any]] = {}
    unplaced: set[int] = set()
    for r in rows:
        wid = int(r["well_id"])
        w = wells.get(wid)
        if w is None and (r["wrow"] is None or r["wcol"] is None
                          or int(r["wrow"]) < 0 or int(r["wcol"]) < 0):
            # OMERO leaves Well.row/column nullable; a well with no place on the plate
            # cannot be drawn, labelled or analysed, so it is left out (and said once).
            if wid not in unplaced:
                unplaced.add(wid)
                logger.warning("well %s of plate %s has no valid position (row %s, column "
                               "%s): left out", wid, r["plate"], r["wrow"], r["wcol"])
            continue
        if w is None:
            w = wells[wid] = {
                "plate_id": int(r["plate"]),
                "row": int(r["wrow"]),
                "column": int(r["wcol"]),
                "label": well_label(
                    int(r["wrow"]),
                    int(r["wcol"]),
                    row_naming=r["rownamingconvention"],
                    column_naming=r["columnnamingconvention"],
                ),
                "fields": [],
            }
        if r["image"] is not None and r["pixels_id"] is not None:
            w["fields"].append(
                FieldRef(
                    well_id=wid,
                    field=int(r["well_index"]),
                    image_id=int(r["image"]),
                    pixels_id=int(r["pixels_id"]),
                    acquisition_id=None
                    if r["plateacquisition"] is None
                    else int(r["plateacquisition"]),
                )
            )
    return [
        WellRef(
            id=wid,
            plate_id=w["plate_id"],
            row=w["row"],
            column=w["column"],
            label=w["label"],
            fields=tuple(w["fields"]),
        )
        for wid, w in wells.items()
    ]
