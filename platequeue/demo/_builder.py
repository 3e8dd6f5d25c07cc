"""Insert OMERO rows and write pixel files with known ground truth.

:class:`FixtureBuilder` writes rows into the OMERO schema subset
(:mod:`platequeue.demo.schema`) and pixel files into a folder laid out like
``/OMERO`` (writers in :mod:`platequeue.demo.formats`).  Ids are handed out per
table from :data:`ID_BASES` (pixels from 1000001, so ``Dir-XXX`` nesting is
exercised); everything is deterministic for a seed.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from platequeue.demo import _formats as formats
from platequeue.demo import _schema as s
from platequeue.demo._manifest import DemoManifest, PlateTruth
from platequeue.demo._synth import field_rng, make_field
from platequeue.omero import GROUP_LEVELS, PIXEL_DTYPES, BioFormatsConfig, well_label

logger = logging.getLogger(__name__)

EPOCH = datetime(2024, 3, 5, 10, 0, 0)
PIXEL_SIZE_UM = 0.65  # a 10x objective on a 6.5 µm-pixel camera
PIXELS_TYPES = ("bit", "int8", "int16", "int32", "uint8", "uint16", "uint32", "float",
                "double", "complex", "double-complex")
BITSIZE = {"bit": 1, "complex": 64, "double-complex": 128} | {
    k: v.itemsize * 8 for k, v in PIXEL_DTYPES.items()
}
DIMENSION_ORDERS = ("XYZCT", "XYZTC", "XYCTZ", "XYCZT", "XYTCZ", "XYTZC")
#: First id handed out per table (above 999 where OMERO nests on disk).
ID_BASES = {"experimenter": 2, "experimentergroup": 3, "groupexperimentermap": 10,
            "session": 1, "event": 1, "screen": 1001, "screenplatelink": 1001,
            "plate": 1101, "plateacquisition": 1201, "well": 10001, "wellsample": 30001,
            "image": 50001, "pixels": 1_000_001, "logicalchannel": 70001,
            "channel": 90001, "externalinfo": 2001, "fileset": 3001,
            "filesetentry": 3001, "originalfile": 4001}


class FixtureBuilder:
    """Insert OMERO rows and write pixel files under *data_dir*, deterministically."""

    def __init__(self, engine: Engine, data_dir: str | os.PathLike[str], *, seed: int = 0):
        self.engine = engine
        self.data_dir = Path(data_dir)
        self.seed = seed
        self._next = dict(ID_BASES)
        self._rng = np.random.default_rng([seed, 7])
        self._events: dict[tuple[int, int], int] = {}
        self._child_index: dict[int, int] = defaultdict(int)
        self.users: dict[str, int] = {}
        self.groups: dict[str, int] = {}
        self.enum_ids: dict[tuple[str, str], int] = {}
        self.plates: list[PlateTruth] = []
        self._managed: tuple[str, str] | None = None
        #: Bio-Formats used to register FS-imported plates (series order, plate layout).
        self.bf_config = BioFormatsConfig()

    # -- low level ---------------------------------------------------------
    def new_id(self, table: str) -> int:
        value = self._next[table]
        self._next[table] = value + 1
        return value

    def uuid(self) -> str:
        return str(uuid.UUID(bytes=self._rng.bytes(16), version=4))

    def insert(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        """Insert *rows* (table name -> rows) in foreign-key order, one transaction."""
        with self.engine.begin() as conn:
            for table in s.TABLES:
                batch = rows.get(table.name)
                if batch:
                    conn.execute(insert(table), batch)

    def details(self, owner: int, group: int, *, perms: int = -120) -> dict[str, Any]:
        """Common columns for a row owned by *owner* in *group* (creates the event)."""
        ev = self.event(owner, group)
        return {"permissions": perms, "owner_id": owner, "group_id": group,
                "creation_id": ev, "update_id": ev, "version": 0}

    def event(self, owner: int, group: int) -> int:
        key = (owner, group)
        if key not in self._events:
            sess = self.new_id("session")
            ev = self.new_id("event")
            self.insert({
                "session": [{"id": sess, "defaulteventtype": "User", "permissions": -120,
                             "started": EPOCH, "timetoidle": 600_000, "timetolive": 0,
                             "uuid": self.uuid(), "node": 0, "owner": owner, "version": 0}],
                "event": [{"id": ev, "permissions": -120, "time": EPOCH, "experimenter": owner,
                           "experimentergroup": group, "session": sess, "type": 0}],
            })
            self._events[key] = ev
        return self._events[key]

    # -- users and groups --------------------------------------------------
    def bootstrap(self) -> None:
        """Create the schema, enumerations and OMERO's bootstrap users and groups."""
        s.create_schema(self.engine)
        enums: dict[str, list[dict[str, Any]]] = {"pixelstype": [], "dimensionorder": []}
        for i, value in enumerate(PIXELS_TYPES, start=1):
            enums["pixelstype"].append({"id": i, "permissions": -52, "value": value,
                                        "bitsize": BITSIZE[value]})
            self.enum_ids["pixelstype", value] = i
        for i, value in enumerate(DIMENSION_ORDERS, start=1):
            enums["dimensionorder"].append({"id": i, "permissions": -52, "value": value})
            self.enum_ids["dimensionorder", value] = i
        self.insert(enums)
        for gid, name in ((0, "system"), (1, "user"), (2, "guest")):
            self._group_row(gid, name, -120)
        for uid, name in ((0, "root"), (1, "guest")):
            self._user_row(uid, name, None)
        self.add_member(0, 0)
        self.add_member(0, 1)
        self.add_member(1, 2)

    def _group_row(self, gid: int, name: str, perms: int) -> None:
        self.insert({"experimentergroup": [{"id": gid, "permissions": perms, "ldap": False,
                                            "name": name, "version": 0}]})
        self.groups[name] = gid

    def _user_row(self, uid: int, omename: str, email: str | None) -> None:
        self.insert({"experimenter": [{
            "id": uid, "permissions": -44, "email": email, "firstname": omename.title(),
            "lastname": "Fixture", "ldap": False, "omename": omename, "version": 0}]})
        self.users[omename] = uid

    def add_group(self, name: str, level: str | int = "read-annotate") -> int:
        """A group at *level* (``"private"``... ``"public"``, or raw permission bits)."""
        perms = GROUP_LEVELS[level] if isinstance(level, str) else int(level)
        gid = self.new_id("experimentergroup")
        self._group_row(gid, name, perms)
        return gid

    def add_user(
        self,
        omename: str,
        *,
        groups: tuple[int, ...] = (),
        leads: tuple[int, ...] = (),
        admin: bool = False,
        email: str | None = None,
    ) -> int:
        """A user, member of ``user`` and of *groups*, leader of *leads*."""
        uid = self.new_id("experimenter")
        self._user_row(uid, omename, email if email is not None else f"{omename}@example.org")
        for gid in (*groups, *[g for g in leads if g not in groups]):
            self.add_member(uid, gid, leader=gid in leads)
        self.add_member(uid, 1)
        if admin:
            self.add_member(uid, 0)
        return uid

    def add_member(self, uid: int, gid: int, *, leader: bool = False) -> None:
        idx = self._child_index[uid]
        self._child_index[uid] = idx + 1
        self.insert({"groupexperimentermap": [{
            "id": self.new_id("groupexperimentermap"), "permissions": -52, "owner": leader,
            "version": 0, "child": uid, "parent": gid, "child_index": idx}]})

    # -- screens and plates ------------------------------------------------
    def add_screen(self, name: str, *, owner: int, group: int) -> int:
        sid = self.new_id("screen")
        self.insert({"screen": [{"id": sid, "name": name, **self.details(owner, group)}]})
        return sid

    def add_plate(
        self,
        name: str,
        *,
        owner: int,
        group: int,
        rows: int = 8,
        columns: int = 12,
        wells: list[tuple[int, int]] | None = None,
        fields: int = 2,
        size: int = 256,
        count_range: tuple[int, int] = (1, 25),
        pixels_type: str = "uint16",
        channel_names: tuple[str, ...] = ("DAPI", "GFP"),
        screen: int | None = None,
        acquisitions: int = 0,
        backend: str = "romio",
        rng_key: int | None = None,
    ) -> PlateTruth:
        """A plate with nuclei fields; *wells* defaults to every (row, column).

        Field pixels derive from (seed, *rng_key*, well index, field); *rng_key*
        defaults to the plate's ordinal, so two plates given the same key hold
        identical pixels (used to compare storage backends).
        """
        if fields < 1 or size < 32 or not 0 <= count_range[0] <= count_range[1]:
            raise ValueError(f"bad plate shape fields={fields} size={size} counts={count_range}")
        writer = formats.writer_for(backend, self)
        positions = wells if wells is not None else [
            (r, c) for r in range(rows) for c in range(columns)]
        pid = self.new_id("plate")
        det = self.details(owner, group)
        rows_out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        rows_out["plate"].append({"id": pid, "name": name, "rows": rows, "columns": columns,
                                  "rownamingconvention": "letter",
                                  "columnnamingconvention": "number", **det})
        truth = PlateTruth(id=pid, name=name, rows=rows, columns=columns, fields=fields,
                           group_id=group, owner_id=owner, backend=backend,
                           pixels_type=pixels_type, size_x=size, size_y=size,
                           channels=list(channel_names), screen_id=screen)
        if screen is not None:
            rows_out["screenplatelink"].append(
                {"id": self.new_id("screenplatelink"), "parent": screen, "child": pid, **det})
        acq_ids = [self.new_id("plateacquisition") for _ in range(acquisitions)]
        for n, aid in enumerate(acq_ids):
            rows_out["plateacquisition"].append({
                "id": aid, "plate": pid, "name": f"Run {n + 1}", "maximumfieldcount": fields,
                "starttime": EPOCH + timedelta(hours=n),
                "endtime": EPOCH + timedelta(hours=n, minutes=50), **det})
        truth.acquisitions = acq_ids
        plate_no = len(self.plates) if rng_key is None else rng_key
        for wi, (r, c) in enumerate(positions):
            wid = self.new_id("well")
            label = well_label(r, c)
            rows_out["well"].append({"id": wid, "plate": pid, "row": r, "column": c, **det})
            truth.wells[label], truth.counts[label], truth.images[label] = wid, [], []
            for f in range(fields):
                rng = field_rng(self.seed, plate_no, wi, f)
                count = int(rng.integers(count_range[0], count_range[1] + 1))
                data = make_field(rng, count, size_y=size, size_x=size,
                                  channels=len(channel_names), dtype=PIXEL_DTYPES[pixels_type])
                iid = self._image(rows_out, writer, data, det, label, f, pixels_type,
                                  channel_names)
                acq = acq_ids[f * len(acq_ids) // fields] if acq_ids else None
                rows_out["wellsample"].append({"id": self.new_id("wellsample"), "well": wid,
                                               "image": iid, "well_index": f,
                                               "plateacquisition": acq, **det})
                truth.counts[label].append(count)
                truth.images[label].append(iid)
        writer.finish(rows_out, det)
        self.insert(rows_out)
        self.plates.append(truth)
        logger.info("fixture plate %s (%d wells x %d fields, %s)", pid, len(positions), fields,
                    backend)
        return truth

    def _image(self, rows_out: dict[str, list[dict[str, Any]]], writer: Any, data: np.ndarray,
               det: dict[str, Any], label: str, f: int, pixels_type: str,
               channel_names: tuple[str, ...]) -> int:
        iid, pxid = self.new_id("image"), self.new_id("pixels")
        c_, y_, x_ = data.shape
        image_row = {"id": iid, "name": f"{label} field {f + 1}", "series": 0,
                     "acquisitiondate": EPOCH, **det}
        pixels_row = {"id": pxid, "image": iid, "image_index": 0, "sha1": "",
                      "sizex": x_, "sizey": y_, "sizez": 1, "sizec": c_, "sizet": 1,
                      "physicalsizexvalue": PIXEL_SIZE_UM, "physicalsizexunit": "µm",
                      "physicalsizeyvalue": PIXEL_SIZE_UM, "physicalsizeyunit": "µm",
                      "significantbits": BITSIZE[pixels_type],
                      "pixelstype": self.enum_ids["pixelstype", pixels_type],
                      "dimensionorder": self.enum_ids["dimensionorder", "XYZCT"], **det}
        writer.add(rows_out, image_row, pixels_row, data[None, :, None], pixels_type)
        rows_out["image"].append(image_row)
        rows_out["pixels"].append(pixels_row)
        for ci, cname in enumerate(channel_names):
            lc = self.new_id("logicalchannel")
            rows_out["logicalchannel"].append({"id": lc, "name": cname, **det})
            rows_out["channel"].append({"id": self.new_id("channel"), "logicalchannel": lc,
                                        "pixels": pxid, "pixels_index": ci, **det})
        return iid

    def managed_repository(self) -> tuple[str, str]:
        """(uuid, folder name) of ManagedRepository, creating its root row once."""
        if self._managed is None:
            repo_uuid = self.uuid()
            self.insert({"originalfile": [{
                "id": self.new_id("originalfile"), "name": "ManagedRepository",
                "path": "/OMERO/", "mimetype": "Repository", "hash": repo_uuid,
                **self.details(0, 0)}]})
            self._managed = (repo_uuid, "ManagedRepository")
        return self._managed

    def manifest(self, *, user: str, group: str, db_url: str | None) -> DemoManifest:
        return DemoManifest(data_dir=str(self.data_dir), db_url=db_url, seed=self.seed,
                            user_id=self.users[user], group_id=self.groups[group],
                            users=dict(self.users), groups=dict(self.groups),
                            plates=list(self.plates))
