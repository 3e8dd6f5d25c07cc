"""A faithful subset of OMERO's PostgreSQL schema (OMERO5.4 patch 0).

Table and column names are those of ``sql/psql/OMERO5.4__0/schema.sql`` in
ome/openmicroscopy, lower-cased as PostgreSQL folds unquoted identifiers
(``sizeX`` is ``sizex``, ``omeName`` is ``omename``).  Columns that OMERO adds in
its upgrade scripts rather than in the generated schema are included too:
``pixels.path``, ``pixels.name``, ``pixels.repo`` (FS, OMERO 5.0) and the unique
index ``well_col_row`` on ``well(plate, "column", "row")``.

Only the columns the platform reads, plus every NOT NULL column, are declared; a
real OMERO database has more, which is harmless since we only ever select named
columns.  OMERO's SQL domains (``positive_int``, ``nonnegative_int``) become
plain integers so the same metadata creates on PostgreSQL and SQLite.

Foreign keys follow OMERO's for the relations the platform walks and for
``owner_id``/``group_id``/``creation_id``/``update_id``.  The ``external_id ->
externalinfo`` keys are left out: ``externalinfo.creation_id -> event`` and
``event.external_id -> externalinfo`` form a cycle that SQLite cannot create.

Over 300 lines because it is a declarative table list, one block per OMERO table; it
has no logic to split. This module is for the test fixture and the demo repository; against a real
OMERO database the platform only reads (read-only role) and never calls
:func:`create_schema`.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

metadata = MetaData()


def _id() -> Column[Any]:
    return Column("id", BigInteger, primary_key=True, autoincrement=False)


def _details(*, update: bool = True) -> list[Column[Any]]:
    """OMERO's common ``IObject`` columns (``IMutable`` ones add ``version``/``update_id``)."""
    cols: list[Column[Any]] = [
        Column("permissions", BigInteger, nullable=False),
        Column("creation_id", BigInteger, ForeignKey("event.id"), nullable=False),
        Column("external_id", BigInteger, unique=True),
        Column("group_id", BigInteger, ForeignKey("experimentergroup.id"), nullable=False),
        Column("owner_id", BigInteger, ForeignKey("experimenter.id"), nullable=False),
    ]
    if update:
        cols += [
            Column("version", Integer),
            Column("update_id", BigInteger, ForeignKey("event.id"), nullable=False),
        ]
    return cols


def _enum(name: str, *extra: Column[Any]) -> Table:
    return Table(
        name,
        metadata,
        _id(),
        Column("permissions", BigInteger, nullable=False),
        Column("value", String(255), nullable=False, unique=True),
        Column("external_id", BigInteger, unique=True),
        *extra,
    )


experimenter = Table(
    "experimenter",
    metadata,
    _id(),
    Column("permissions", BigInteger, nullable=False),
    Column("email", String(255)),
    Column("firstname", String(255), nullable=False),
    Column("institution", String(255)),
    Column("lastname", String(255), nullable=False),
    Column("ldap", Boolean, nullable=False),
    Column("middlename", String(255)),
    Column("omename", String(255), nullable=False, unique=True),
    Column("version", Integer),
    Column("external_id", BigInteger, unique=True),
)

experimentergroup = Table(
    "experimentergroup",
    metadata,
    _id(),
    Column("description", Text),
    Column("permissions", BigInteger, nullable=False),
    Column("ldap", Boolean, nullable=False),
    Column("name", String(255), nullable=False, unique=True),
    Column("version", Integer),
    Column("external_id", BigInteger, unique=True),
)

groupexperimentermap = Table(
    "groupexperimentermap",
    metadata,
    _id(),
    Column("permissions", BigInteger, nullable=False),
    Column("owner", Boolean, nullable=False),  # True: the child leads the group
    Column("version", Integer),
    Column("child", BigInteger, ForeignKey("experimenter.id"), nullable=False),
    Column("external_id", BigInteger, unique=True),
    Column("parent", BigInteger, ForeignKey("experimentergroup.id"), nullable=False),
    Column("child_index", Integer, nullable=False),
    UniqueConstraint("parent", "child"),
    UniqueConstraint("child", "child_index"),
)

session = Table(
    "session",
    metadata,
    _id(),
    Column("closed", DateTime),
    Column("defaulteventtype", String(255), nullable=False),
    Column("permissions", BigInteger, nullable=False),
    Column("message", Text),
    Column("started", DateTime, nullable=False),
    Column("timetoidle", BigInteger, nullable=False),  # milliseconds, 0 = never
    Column("timetolive", BigInteger, nullable=False),  # milliseconds, 0 = never
    Column("useragent", String(255)),
    Column("userip", String(255)),
    Column("uuid", String(255), nullable=False, unique=True),
    Column("version", Integer),
    Column("external_id", BigInteger, unique=True),
    Column("node", BigInteger, nullable=False),
    Column("owner", BigInteger, ForeignKey("experimenter.id"), nullable=False),
    Column("sudoer", BigInteger, ForeignKey("experimenter.id")),
)

event = Table(
    "event",
    metadata,
    _id(),
    Column("permissions", BigInteger, nullable=False),
    Column("status", String(255)),
    Column("time", DateTime, nullable=False),
    Column("containingevent", BigInteger),
    Column("external_id", BigInteger, unique=True),
    Column("experimenter", BigInteger, ForeignKey("experimenter.id"), nullable=False),
    Column(
        "experimentergroup", BigInteger, ForeignKey("experimentergroup.id"), nullable=False
    ),
    Column("session", BigInteger, ForeignKey("session.id"), nullable=False, quote=True),
    Column("type", BigInteger, nullable=False),
)

externalinfo = Table(
    "externalinfo",
    metadata,
    _id(),
    *_details(update=False),
    Column("entityid", BigInteger, nullable=False),
    Column("entitytype", String(255), nullable=False),
    Column("lsid", String(255)),
    Column("uuid", String(255)),
)

pixelstype = _enum("pixelstype", Column("bitsize", Integer))
dimensionorder = _enum("dimensionorder")

screen = Table(
    "screen",
    metadata,
    _id(),
    Column("description", Text),
    Column("name", Text, nullable=False),
    Column("protocoldescription", Text),
    Column("protocolidentifier", String(255)),
    Column("reagentsetdescription", Text),
    Column("reagentsetidentifier", String(255)),
    Column("type", String(255)),
    *_details(),
)

plate = Table(
    "plate",
    metadata,
    _id(),
    Column("columnnamingconvention", String(255)),
    Column("columns", Integer),
    Column("defaultsample", Integer),
    Column("description", Text),
    Column("externalidentifier", String(255)),
    Column("name", Text, nullable=False),
    Column("rownamingconvention", String(255)),
    Column("rows", Integer, quote=True),
    Column("status", Text),
    *_details(),
)

screenplatelink = Table(
    "screenplatelink",
    metadata,
    _id(),
    Column("child", BigInteger, ForeignKey("plate.id"), nullable=False),
    Column("parent", BigInteger, ForeignKey("screen.id"), nullable=False),
    *_details(),
    UniqueConstraint("parent", "child", "owner_id"),
)

plateacquisition = Table(
    "plateacquisition",
    metadata,
    _id(),
    Column("description", Text),
    Column("endtime", DateTime),
    Column("maximumfieldcount", Integer),
    Column("name", Text),
    Column("starttime", DateTime),
    Column("plate", BigInteger, ForeignKey("plate.id"), nullable=False),
    *_details(),
)

well = Table(
    "well",
    metadata,
    _id(),
    Column("column", Integer, quote=True),
    Column("externaldescription", Text),
    Column("externalidentifier", String(255)),
    Column("row", Integer, quote=True),
    Column("status", String(255)),
    Column("type", String(255)),
    Column("plate", BigInteger, ForeignKey("plate.id"), nullable=False),
    *_details(),
)
Index("well_col_row", well.c.plate, well.c.column, well.c.row, unique=True)

originalfile = Table(
    "originalfile",
    metadata,
    _id(),
    Column("atime", DateTime),
    Column("ctime", DateTime),
    Column("hash", Text),
    Column("mimetype", String(255)),
    Column("mtime", DateTime),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("repo", String(255)),
    Column("size", BigInteger, quote=True),
    Column("hasher", BigInteger),
    *_details(),
)

fileset = Table(
    "fileset",
    metadata,
    _id(),
    Column("templateprefix", Text, nullable=False),
    *_details(),
)

filesetentry = Table(
    "filesetentry",
    metadata,
    _id(),
    Column("clientpath", Text, nullable=False),
    Column("fileset", BigInteger, ForeignKey("fileset.id"), nullable=False),
    Column("originalfile", BigInteger, ForeignKey("originalfile.id"), nullable=False),
    Column("fileset_index", Integer, nullable=False),
    *_details(),
    UniqueConstraint("fileset", "fileset_index"),
)

image = Table(
    "image",
    metadata,
    _id(),
    Column("acquisitiondate", DateTime),
    Column("archived", Boolean),
    Column("description", Text),
    Column("name", Text, nullable=False),
    Column("partial", Boolean),
    Column("series", Integer),
    Column("fileset", BigInteger, ForeignKey("fileset.id")),
    Column("format", BigInteger),
    *_details(),
)

wellsample = Table(
    "wellsample",
    metadata,
    _id(),
    Column("posx", Float(53)),
    Column("posy", Float(53)),
    Column("timepoint", DateTime),
    Column("image", BigInteger, ForeignKey("image.id"), nullable=False),
    Column("plateacquisition", BigInteger, ForeignKey("plateacquisition.id")),
    Column("well", BigInteger, ForeignKey("well.id"), nullable=False),
    Column("well_index", Integer, nullable=False),
    *_details(),
    UniqueConstraint("well", "well_index"),
)

pixels = Table(
    "pixels",
    metadata,
    _id(),
    Column("methodology", String(255)),
    # OMERO 5.1+ stores lengths as a value plus a unit (PostgreSQL enum ``unitslength``,
    # whose labels are symbols such as "µm"; a plain string here).
    Column("physicalsizexunit", String(16)),
    Column("physicalsizexvalue", Float(53)),
    Column("physicalsizeyunit", String(16)),
    Column("physicalsizeyvalue", Float(53)),
    Column("physicalsizezunit", String(16)),
    Column("physicalsizezvalue", Float(53)),
    Column("sha1", String(255), nullable=False),
    Column("significantbits", Integer),
    Column("sizec", Integer, nullable=False),
    Column("sizet", Integer, nullable=False),
    Column("sizex", Integer, nullable=False),
    Column("sizey", Integer, nullable=False),
    Column("sizez", Integer, nullable=False),
    Column("dimensionorder", BigInteger, ForeignKey("dimensionorder.id"), nullable=False),
    Column("image", BigInteger, ForeignKey("image.id"), nullable=False),
    Column("pixelstype", BigInteger, ForeignKey("pixelstype.id"), nullable=False),
    Column("relatedto", BigInteger),
    Column("image_index", Integer, nullable=False),
    Column("path", Text),
    Column("name", Text),
    Column("repo", String(36)),
    *_details(),
    UniqueConstraint("image", "image_index"),
)
Index("pixels_repo_index", pixels.c.repo)

logicalchannel = Table(
    "logicalchannel",
    metadata,
    _id(),
    Column("emissionwave", Float(53)),
    Column("excitationwave", Float(53)),
    Column("fluor", String(255)),
    Column("name", Text),
    Column("samplesperpixel", Integer),
    *_details(),
)

channel = Table(
    "channel",
    metadata,
    _id(),
    Column("alpha", Integer),
    Column("blue", Integer),
    Column("green", Integer),
    Column("red", Integer),
    Column("lookuptable", Text),
    Column("logicalchannel", BigInteger, ForeignKey("logicalchannel.id"), nullable=False),
    Column("pixels", BigInteger, ForeignKey("pixels.id"), nullable=False),
    Column("statsinfo", BigInteger),
    Column("pixels_index", Integer, nullable=False),
    *_details(),
    UniqueConstraint("pixels", "pixels_index"),
)

#: Tables in creation order (parents first).
TABLES: tuple[Table, ...] = tuple(metadata.sorted_tables)


def create_schema(engine: Engine) -> None:
    """Create the OMERO subset on *engine* (fixture and demo only)."""
    metadata.create_all(engine)
    logger.info("created OMERO schema subset (%d tables) on %s", len(TABLES), engine.url)


def drop_schema(engine: Engine) -> None:
    """Drop the OMERO subset tables from *engine*."""
    metadata.drop_all(engine)
