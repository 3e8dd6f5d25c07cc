"""The demo and full fixture repositories, with ground truth.

:func:`build_demo` creates the OMERO-shaped database and binary repository the
platform falls back to when no OMERO database is configured; :func:`build_full`
adds every storage kind and permission level for the tests.

Example
-------
>>> m = build_demo("sqlite:////tmp/demo/omero.db", "/tmp/demo")  # doctest: +SKIP
>>> m.plates[0].count("B3", 1)  # doctest: +SKIP
14
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from platequeue.dburl import normalize_db_url
from platequeue.demo._builder import FixtureBuilder
from platequeue.demo._fsimport import add_fake_plate
from platequeue.demo._manifest import DemoManifest
from platequeue.demo._synth import max_nuclei
from platequeue.omero import GROUP_LEVELS, BioFormatsConfig, bf_available

__all__ = ["FS_PLATE_NAMES", "FixtureBuilder", "build_demo", "build_full"]

#: The FS-imported plates of the full fixture (read through Bio-Formats), by backend.
FS_PLATE_NAMES = {"companion": "companion OME-TIFF plate", "htd": "MetaXpress HTD plate",
                  "fake": "Bio-Formats synthetic plate"}

logger = logging.getLogger(__name__)


def _engine(db: str | Engine) -> tuple[Engine, str | None]:
    if isinstance(db, Engine):
        return db, None
    return create_engine(normalize_db_url(db)), db


def build_demo(
    db: str | Engine,
    data_dir: str | os.PathLike[str],
    *,
    plates: int = 1,
    wells: int = 96,
    fields: int = 2,
    size: int = 256,
    seed: int = 0,
    count_range: tuple[int, int] = (1, 25),
    full: bool = False,
    bioformats: BioFormatsConfig | None = None,
) -> DemoManifest:
    """Create a demo OMERO database + repository and return (and write) its manifest.

    *db* is a SQLAlchemy URL or engine on an **empty** database; *data_dir* gets
    ``Pixels/`` plus ``manifest.json`` (with *full*, see :func:`build_full`).
    *wells* is 96 (8 x 12) or 384 (16 x 24), or any count laid
    out row by row on a 96-well plate.  Fields of *size* px hold at most as many nuclei
    as surely fit (:func:`platequeue.demo.max_nuclei`): *count_range* is capped to that,
    and the manifest records the counts drawn.  The demo user is ``demo`` in the
    read-annotate group ``demo-lab``; ``alice`` is a fellow member, ``lead`` its
    leader, ``outsider`` a member of the private group ``other-lab`` (which owns
    one small plate), ``facility`` an administrator.
    """
    fit = max_nuclei(size, size)
    if fit < 1:
        raise ValueError(f"fields of {size} px are too small to hold a nucleus")
    if count_range[1] > fit:
        logger.info("nuclei per field capped at %d (all that surely fit in %d px fields)",
                    fit, size)
        count_range = (min(count_range[0], fit), fit)
    engine, url = _engine(db)
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    b = FixtureBuilder(engine, data_dir, seed=seed)
    if bioformats is not None:  # registers the FS-imported plates of the full set
        b.bf_config = bioformats
    b.bootstrap()
    lab = b.add_group("demo-lab", "read-annotate")
    other = b.add_group("other-lab", "private")
    demo = b.add_user("demo", groups=(lab,))
    b.add_user("alice", groups=(lab,))
    b.add_user("lead", leads=(lab,))
    outsider = b.add_user("outsider", groups=(other,))
    b.add_user("facility", admin=True)
    rows, cols = (16, 24) if wells == 384 else (8, 12)
    if wells > rows * cols or wells < 1:
        raise ValueError(f"wells must be 1..{rows * cols}, got {wells}")
    positions = [(i // cols, i % cols) for i in range(wells)]
    scr = b.add_screen("Demo screen", owner=demo, group=lab)
    for n in range(plates):
        b.add_plate(f"Demo plate {n + 1}", owner=demo, group=lab, rows=rows, columns=cols,
                    wells=positions, fields=fields, size=size, count_range=count_range,
                    screen=scr)
    b.add_plate("Other lab plate", owner=outsider, group=other, wells=[(0, 0), (0, 1)],
                fields=1, size=96, count_range=(1, 3))
    if full:
        _add_full(b, demo_user=demo, lab=lab)
    manifest = b.manifest(user="demo", group="demo-lab", db_url=url)
    manifest.write()
    if url is not None:
        engine.dispose()
    return manifest


def build_full(
    db: str | Engine, data_dir: str | os.PathLike[str], *, seed: int = 0, size: int = 256
) -> DemoManifest:
    """The demo (one 96-well plate of *size* px fields) plus everything the tests need.

    Adds, for each of the five group levels (``private`` ... ``public``), a group
    ``<level>-lab`` with users ``<level>-owner`` (member, owns plate
    ``<level> plate``), ``<level>-member`` and ``<level>-leader``; a 384-well plate
    with missing wells and three plate acquisitions; a float32 plate; and five plates
    holding identical pixels, stored as ROMIO ``Pixels/<id>`` (``romio twin plate``), as
    OME-TIFF (ManagedRepository), as a JPEG-2000 ``Pixels/<id>_pyramid`` (lossless) and as
    OME-Zarr (externalinfo), NGFF 0.4 (``zarr plate``) and 0.5 (``zarr 0.5 plate``).
    Where Java and the Bio-Formats jar are available, also the same pixels FS-imported as a
    multi-file companion OME-TIFF and as a MetaXpress ``.HTD`` plate, and a Bio-Formats
    synthetic ``.fake`` plate (:data:`FS_PLATE_NAMES`).
    """
    return build_demo(db, data_dir, seed=seed, size=size, full=True)


def _add_full(b: FixtureBuilder, *, demo_user: int, lab: int) -> None:
    small = {"fields": 1, "size": 96, "count_range": (1, 3), "wells": [(0, 0), (0, 1)]}
    for level in GROUP_LEVELS:
        gid = b.add_group(f"{level}-lab", level)
        owner = b.add_user(f"{level}-owner", groups=(gid,))
        b.add_user(f"{level}-member", groups=(gid,))
        b.add_user(f"{level}-leader", leads=(gid,))
        b.add_plate(f"{level} plate", owner=owner, group=gid, **small)  # type: ignore[arg-type]
    missing = {(r, c) for r in range(16) for c in range(24) if (r * 24 + c) % 11 == 5}
    b.add_plate("384 plate with gaps", owner=demo_user, group=lab, rows=16, columns=24,
                wells=[(r, c) for r in range(16) for c in range(24) if (r, c) not in missing],
                fields=3, size=96, count_range=(1, 4), acquisitions=3)
    four = [(0, 0), (0, 1), (1, 0), (1, 1)]
    b.add_plate("Float plate", owner=demo_user, group=lab, wells=four, fields=2, size=128,
                count_range=(1, 8), pixels_type="float")
    # The same pixels under every storage kind (one rng_key): measurements must agree.
    twin = len(b.plates)
    for backend in ("romio", "ometiff", "pyramid", "zarr", "zarr-0.5"):
        name = "romio twin plate" if backend == "romio" else \
            f"{backend.replace('-', ' ')} plate"
        b.add_plate(name, owner=demo_user, group=lab, wells=four, fields=2, size=128,
                    count_range=(1, 8), backend=backend, rng_key=twin)
    # FS-imported plates, read through Bio-Formats: they need Java and the jar here.
    why = bf_available(b.bf_config)
    if why is not None:
        logger.warning("FS-imported plates left out of the fixture: %s", why)
        return
    for backend in ("companion", "htd"):
        b.add_plate(FS_PLATE_NAMES[backend], owner=demo_user, group=lab, wells=four, fields=2,
                    size=128, count_range=(1, 8), backend=backend, rng_key=twin)
    add_fake_plate(b, FS_PLATE_NAMES["fake"], owner=demo_user, group=lab, rows=2, columns=3,
                   fields=2, size=128)
