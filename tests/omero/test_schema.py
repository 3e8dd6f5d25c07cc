from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from platequeue.demo import FixtureBuilder, schema

# Column names exactly as OMERO5.4__0 (lower-cased by PostgreSQL).
EXPECTED = {
    "experimenter": {"id", "permissions", "email", "firstname", "lastname", "omename", "ldap"},
    "experimentergroup": {"id", "permissions", "name", "ldap"},
    "groupexperimentermap": {"id", "owner", "child", "parent", "child_index"},
    "plate": {"id", "name", "rows", "columns", "rownamingconvention", "columnnamingconvention",
              "owner_id", "group_id", "creation_id", "update_id", "external_id", "version"},
    "well": {"id", "row", "column", "plate", "owner_id", "group_id"},
    "wellsample": {"id", "well", "image", "plateacquisition", "well_index"},
    "plateacquisition": {"id", "plate", "name", "starttime", "endtime", "maximumfieldcount"},
    "image": {"id", "name", "fileset", "series", "format", "external_id"},
    "pixels": {"id", "image", "image_index", "sizex", "sizey", "sizez", "sizec", "sizet",
               "pixelstype", "dimensionorder", "significantbits", "path", "name", "repo"},
    "pixelstype": {"id", "value", "bitsize"},
    "channel": {"id", "pixels", "pixels_index", "logicalchannel"},
    "logicalchannel": {"id", "name"},
    "fileset": {"id", "templateprefix"},
    "filesetentry": {"id", "fileset", "originalfile", "clientpath", "fileset_index"},
    "originalfile": {"id", "name", "path", "repo", "mimetype", "size", "hash"},
    "session": {"id", "uuid", "owner", "started", "closed", "timetoidle", "timetolive"},
    "externalinfo": {"id", "entityid", "entitytype", "lsid"},
    "screenplatelink": {"id", "parent", "child"},
    "event": {"id", "experimenter", "experimentergroup", "session", "time", "type"},
}


def test_schema_creates_with_real_names(engine: Engine) -> None:
    schema.create_schema(engine)
    insp = inspect(engine)
    tables = set(insp.get_table_names())
    assert set(EXPECTED) <= tables
    for table, cols in EXPECTED.items():
        have = {c["name"] for c in insp.get_columns(table)}
        assert cols <= have, (table, cols - have)
    schema.drop_schema(engine)
    assert not set(EXPECTED) & set(inspect(engine).get_table_names())


def test_unique_constraints(engine: Engine, tmp_path: object) -> None:
    b = FixtureBuilder(engine, str(tmp_path))
    b.bootstrap()
    g = b.add_group("lab")
    u = b.add_user("u1", groups=(g,))
    with pytest.raises(IntegrityError):
        b.add_user("u1")  # omename unique
    det = b.details(u, g)
    b.insert({"plate": [{"id": 5, "name": "p", **det}],
              "well": [{"id": 6, "plate": 5, "row": 0, "column": 0, **det}]})
    with pytest.raises(IntegrityError):  # well_col_row
        b.insert({"well": [{"id": 7, "plate": 5, "row": 0, "column": 0, **det}]})
    b.insert({"well": [{"id": 8, "plate": 5, "row": 0, "column": 1, **det}]})
