"""FS-imported plates for the fixture, registered as OMERO's importer does.

An OMERO.fs import copies the instrument's files into the ManagedRepository under
``<user>_<id>/<yyyy>-<mm>/<dd>/<hh>-<mm>-<ss>.<ms>/`` and writes: one ``fileset``
(``templateprefix`` = that folder), one ``originalfile`` (``path`` relative to the
repository root, ``repo`` = the repository uuid, ``size``, ``hash``) and one
``filesetentry`` per file; ``image.fileset``; ``image.series`` = the Bio-Formats series;
``pixels.path``/``name``/``repo`` = the file the reader is initialised with.  Plate, wells
and well samples come from Bio-Formats' OME-XML plate metadata (Plate -> Well ->
WellSample -> ImageRef -> Image index = series), read here by
:mod:`platequeue.demo._bfprobe` in a child process, never assumed.

Backends: ``companion`` (multi-file OME-TIFF), ``htd`` (MetaXpress) and
:func:`add_fake_plate` (a Bio-Formats synthetic plate).  Without Java or the jar these
plates cannot be registered: :class:`~platequeue.omero._jvm.BioFormatsUnavailable`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from platequeue.demo import _fsformats as fsformats
from platequeue.demo._manifest import PlateTruth
from platequeue.omero import BioFormatsConfig, pixel_dtype, well_label


class FixtureBuilder(Protocol):
    """What the FS-import writer needs from :class:`platequeue.demo._builder.FixtureBuilder`
    (structural: the builder imports the writers, never the other way round)."""

    data_dir: Path
    users: dict[str, int]
    plates: list[PlateTruth]
    seed: int
    bf_config: BioFormatsConfig
    enum_ids: dict[tuple[str, str], int]

    def new_id(self, table: str) -> int: ...

    def managed_repository(self) -> tuple[str, str]: ...

    def details(self, owner: int, group: int, *, perms: int = -120) -> dict[str, Any]: ...

    def insert(self, rows: dict[str, list[dict[str, Any]]]) -> None: ...

EPOCH = datetime(2026, 12, 1, 12, 0, 0)

logger = logging.getLogger(__name__)
Rows = dict[str, list[dict[str, Any]]]
FS_BACKENDS = ("companion", "htd", "fake")



def probe_file(path: Path, config: BioFormatsConfig, *, pipeline: str | None = None,
               channels: tuple[str, ...] = ()) -> dict[str, Any]:
    """:mod:`platequeue.demo._bfprobe` on *path*, in a child process (its own JVM)."""
    cmd = [sys.executable, "-m", "platequeue.demo._bfprobe", "--jar", str(config.jar), str(path)]
    if config.java_home:
        cmd[3:3] = ["--java-home", config.java_home]
    if pipeline:
        cmd[3:3] = ["--pipeline", pipeline, "--channels", ",".join(channels)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"Bio-Formats probe of {path} failed:\n{res.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(res.stdout)
    return out


def series_layout(probe: dict[str, Any]) -> dict[tuple[int, int, int], int]:
    """(row, column, position in well) -> series, from the probe's first plate."""
    plate = probe["plates"][0]
    return {(w["row"], w["column"], s["position"]): s["series"]
            for w in plate["wells"] for s in w["samples"]}


def import_folder(builder: FixtureBuilder, owner: int) -> str:
    """``<user>_<id>/2026-12/01/12-00-00.<nnn>`` (OMERO's default template), no slash."""
    omename = next(k for k, v in builder.users.items() if v == owner)
    return f"{omename}_{owner}/2026-12/01/12-00-00.{len(builder.plates):03d}"


def register_fileset(builder: FixtureBuilder, rows_out: Rows, det: dict[str, Any], folder: str,
                     files: list[str]) -> int:
    """fileset + one originalfile and filesetentry per file; returns the fileset id."""
    repo_uuid, repo_name = builder.managed_repository()
    fs = builder.new_id("fileset")
    rows_out["fileset"].append({"id": fs, "templateprefix": folder + "/", **det})
    for i, fname in enumerate(files):
        of = builder.new_id("originalfile")
        path = builder.data_dir / repo_name / folder / fname
        rows_out["originalfile"].append({
            "id": of, "name": fname, "path": folder + "/", "repo": repo_uuid,
            "size": path.stat().st_size, "mimetype": "application/octet-stream",
            "hash": hashlib.sha1(path.read_bytes()).hexdigest(), **det})
        rows_out["filesetentry"].append({
            "id": builder.new_id("filesetentry"), "fileset": fs, "originalfile": of,
            "clientpath": f"instrument/export/{Path(folder).name}/{fname}",
            "fileset_index": i, **det})
    return fs


class FsImportWriter:
    """Pixels writer (see :mod:`platequeue.omero.formats`) for ``companion`` and ``htd``."""

    def __init__(self, builder: FixtureBuilder, kind: str) -> None:
        self.b, self.kind = builder, kind
        self.images: list[tuple[dict[str, Any], dict[str, Any], np.ndarray, str]] = []

    def add(self, rows_out: Rows, image_row: dict[str, Any], pixels_row: dict[str, Any],
            data: np.ndarray, pixels_type: str) -> None:
        self.images.append((image_row, pixels_row, np.ascontiguousarray(data[0, :, 0]),
                            pixels_type))

    def finish(self, rows_out: Rows, det: dict[str, Any]) -> None:
        truth_rows = rows_out["plate"][-1]
        folder = import_folder(self.b, det["owner_id"])
        repo_uuid, repo_name = self.b.managed_repository()
        target = self.b.data_dir / repo_name / folder
        target.mkdir(parents=True, exist_ok=True)
        keyed = []
        for image_row, _px, data, _pt in self.images:
            label, _, f = image_row["name"].split()
            keyed.append((ord(label[0]) - ord("A"), int(label[1:]) - 1, int(f) - 1, data))
        name = f"plate{len(self.b.plates)}"
        channels = _channel_names(rows_out, self.images[0][1]["id"])
        if self.kind == "companion":
            init, files = fsformats.write_companion(
                target, name, keyed, rows=truth_rows["rows"], columns=truth_rows["columns"],
                channels=channels, pixels_type=self.images[0][3], seed=self.b.seed)
        else:
            init, files = fsformats.write_htd(
                target, name, keyed, rows=truth_rows["rows"], columns=truth_rows["columns"],
                channels=channels, fields=max(k[2] for k in keyed) + 1)
        probe = probe_file(target / init, self.b.bf_config)
        layout = series_layout(probe)
        fs = register_fileset(self.b, rows_out, det, folder, files)
        for (image_row, pixels_row, data, _pt), (r, c, f, _d) in zip(self.images, keyed,
                                                                     strict=True):
            series = layout[(r, c, f)]
            _t, c_, z_, y_, x_ = probe["series"][series]["sizes"]
            if (c_, z_, y_, x_) != (data.shape[0], 1, *data.shape[1:]):
                raise RuntimeError(f"{init} series {series}: Bio-Formats sizes "
                                   f"{probe['series'][series]['sizes']} != {data.shape}")
            image_row.update(series=series, fileset=fs)
            pixels_row.update(path=folder, name=init, repo=repo_uuid,
                              dimensionorder=self.b.enum_ids[
                                  "dimensionorder", probe["series"][series]["dimension_order"]])


def add_fake_plate(b: FixtureBuilder, name: str, *, owner: int, group: int, rows: int = 2,
                   columns: int = 3, fields: int = 2, size: int = 128,
                   channel_names: tuple[str, ...] = ("DAPI", "GFP"),
                   screen: int | None = None) -> PlateTruth:
    """A Bio-Formats synthetic HCS plate; its ground truth is nuclei-count on a direct read."""
    folder = import_folder(b, owner)
    repo_uuid, repo_name = b.managed_repository()
    target = b.data_dir / repo_name / folder
    target.mkdir(parents=True, exist_ok=True)
    init = fsformats.fake_name("fake", rows=rows, columns=columns, fields=fields, size=size,
                               channels=len(channel_names), pixels_type="uint16")
    (target / init).touch()
    probe = probe_file(target / init, b.bf_config, pipeline="nuclei-count",
                       channels=channel_names)
    det = b.details(owner, group)
    out: Rows = defaultdict(list)
    pid = b.new_id("plate")
    out["plate"].append({"id": pid, "name": name, "rows": rows, "columns": columns,
                         "rownamingconvention": "letter", "columnnamingconvention": "number",
                         **det})
    if screen is not None:
        out["screenplatelink"].append(
            {"id": b.new_id("screenplatelink"), "parent": screen, "child": pid, **det})
    truth = PlateTruth(id=pid, name=name, rows=rows, columns=columns, fields=fields,
                       group_id=group, owner_id=owner, backend="fake", pixels_type="uint16",
                       size_x=size, size_y=size, channels=list(channel_names),
                       screen_id=screen)
    fs = register_fileset(b, out, det, folder, [init])
    for well in probe["plates"][0]["wells"]:
        if not well["samples"]:
            continue
        wid, label = b.new_id("well"), well_label(well["row"], well["column"])
        out["well"].append({"id": wid, "plate": pid, "row": well["row"],
                            "column": well["column"], **det})
        truth.wells[label], truth.counts[label], truth.images[label] = wid, [], []
        for s in well["samples"]:
            series = s["series"]
            iid = _image(b, out, det, probe["series"][series], series=series, fileset=fs,
                         pixels={"path": folder, "name": init, "repo": repo_uuid},
                         channel_names=channel_names)
            out["wellsample"].append({"id": b.new_id("wellsample"), "well": wid, "image": iid,
                                      "well_index": s["position"], **det})
            truth.counts[label].append(int(probe["features"][series]["count"]))
            truth.images[label].append(iid)
    b.insert(out)
    b.plates.append(truth)
    return truth


def _channel_names(rows_out: Rows, pixels_id: int) -> list[str]:
    names = {r["id"]: r["name"] for r in rows_out["logicalchannel"]}
    chans = sorted((r for r in rows_out["channel"] if r["pixels"] == pixels_id),
                   key=lambda r: r["pixels_index"])
    return [names[r["logicalchannel"]] for r in chans]


def _image(b: FixtureBuilder, out: Rows, det: dict[str, Any], series_info: dict[str, Any], *,
           series: int, fileset: int, pixels: dict[str, Any],
           channel_names: tuple[str, ...]) -> int:
    """image, pixels and channel rows of one Bio-Formats series (sizes from Bio-Formats)."""
    iid, pxid = b.new_id("image"), b.new_id("pixels")
    t_, c_, z_, y_, x_ = series_info["sizes"]
    ptype = series_info["pixels_type"]
    out["image"].append({"id": iid, "name": series_info["name"] or f"series {series}",
                         "series": series, "fileset": fileset, "acquisitiondate": EPOCH, **det})
    out["pixels"].append({
        "id": pxid, "image": iid, "image_index": 0, "sha1": "", "sizex": x_, "sizey": y_,
        "sizez": z_, "sizec": c_, "sizet": t_, "significantbits": 8 * pixel_dtype(ptype).itemsize,
        "pixelstype": b.enum_ids["pixelstype", ptype],
        "dimensionorder": b.enum_ids["dimensionorder", series_info["dimension_order"]],
        **pixels, **det})
    for ci in range(c_):
        lc = b.new_id("logicalchannel")
        cname = channel_names[ci] if ci < len(channel_names) else f"C{ci}"
        out["logicalchannel"].append({"id": lc, "name": cname, **det})
        out["channel"].append({"id": b.new_id("channel"), "logicalchannel": lc,
                               "pixels": pxid, "pixels_index": ci, **det})
    return iid
