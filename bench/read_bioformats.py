"""Read-path benchmark for FS-imported plates: the platform's Bio-Formats field read vs plain
reads of the same bytes.

Writes a MetaXpress plate (``.HTD`` + one uncompressed single-plane TIFF per well, site and
wavelength; default 96 wells x 4 sites x 2 wavelengths x 512 x 512 uint16, about 400 MB;
``--kind companion``: a companion OME-TIFF plate, one two-plane TIFF per field) into a
temporary ManagedRepository folder, warms the page cache, then

* raw: ``open().readinto`` of every TIFF into a reused buffer (the physical limit for these
  bytes: page cache -> user memory);
* platform: ``BioFormatsSource.read_field`` for every series (one initialised reader per
  fileset, as a worker keeps it; ``setSeries``, size check, native ``(C, Z, Y, X)``);
* Bio-Formats alone: ``openBytes`` of every plane on the same reader (what any Bio-Formats
  client, OMERO's ``BfPixelBuffer`` included, pays for this format);
* reader initialisation per plate: ``setId`` without the memo cache, with a cold
  ``Memoizer`` (writes the memo) and with a warm one (reads it back);

and prints MB/s, planes/s per process against OMERO's ``getPlanes`` anchor (about 10
planes/s per client).  The last line is ``ratio=<platform MB/s / raw MB/s>``.  The JVM runs
in this process; the temporary data is removed at the end.

Usage: ``.venv/bin/python bench/read_bioformats.py [--kind htd] [--wells 96] [--fields 4]
[--size 512]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from platequeue.demo import bioformats_probe as probe
from platequeue.demo import field_rng, fsformats
from platequeue.omero import BioFormatsConfig, BioFormatsSource, PixelsInfo

GETPLANES_PER_S = 10.0
CHANNELS = ("DAPI", "GFP")


def _generate(folder: Path, kind: str, wells: int, fields: int,
              size: int) -> tuple[str, list[str]]:
    rng = field_rng(0, 1)
    base = rng.integers(200, 4000, size=(len(CHANNELS), size, size), dtype=np.uint16)
    cols = 12
    images = []
    for w in range(wells):
        for f in range(fields):
            data = base.copy()
            data[:, 0, :8] = (w * fields + f) % 65535 + 1  # make the files differ a little
            images.append((w // cols, w % cols, f, data))
    rows = (wells + cols - 1) // cols
    if kind == "companion":
        return fsformats.write_companion(folder, "bench", images, rows=rows, columns=cols,
                                         channels=CHANNELS, pixels_type="uint16")
    return fsformats.write_htd(folder, "bench", images, rows=rows, columns=cols,
                               channels=CHANNELS, fields=fields)


def _raw(paths: list[Path], buf: bytearray) -> float:
    view = memoryview(buf)
    t0 = time.perf_counter()
    for p in paths:
        with open(p, "rb", buffering=0) as fh:
            fh.readinto(view)
    return time.perf_counter() - t0


def _platform(src: BioFormatsSource, infos: list[PixelsInfo], path: Path) -> float:
    src.reader(path, 1)  # the worker's reader is initialised once per fileset
    t0 = time.perf_counter()
    for info in infos:
        src.read_field(info, path)
    return time.perf_counter() - t0


def _openbytes(src: BioFormatsSource, infos: list[PixelsInfo], path: Path) -> float:
    """Bio-Formats alone: ``setSeries`` + ``openBytes`` of every plane, no conversion."""
    r = src.reader(path, 1)
    t0 = time.perf_counter()
    for info in infos:
        r.setSeries(info.series)
        for no in range(int(r.getImageCount())):
            r.openBytes(no)
    return time.perf_counter() - t0


def _init(config: BioFormatsConfig, root: Path, path: Path) -> float:
    src = BioFormatsSource(config, [root])
    t0 = time.perf_counter()
    src.reader(path, None)
    elapsed = time.perf_counter() - t0
    src.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wells", type=int, default=96)
    ap.add_argument("--fields", type=int, default=4)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kind", choices=("htd", "companion"), default="htd",
                    help="MetaXpress .HTD + TIFFs, or a companion OME-TIFF plate")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pq_read_bf_"))
    try:
        folder = root / "ManagedRepository" / "bench_2" / "2026-12" / "01" / "12-00-00.000"
        folder.mkdir(parents=True)
        t0 = time.perf_counter()
        htd, files = _generate(folder, args.kind, args.wells, args.fields, args.size)
        tiffs = [folder / f for f in files[1:]]
        total = sum(p.stat().st_size for p in tiffs)
        print(f"generated {len(tiffs)} TIFFs + {htd}, {total / 1e9:.2f} GB in {root} "
              f"({time.perf_counter() - t0:.1f} s)")
        config = BioFormatsConfig(memo_dir=None)
        src = BioFormatsSource(config, [root])
        src.reader(folder / htd, 1)  # starts the JVM (not timed)
        layout, _ = probe(str(folder / htd))
        infos = [PixelsInfo(id=i + 1, image_id=i + 1, image_name=s["name"],
                            size_x=args.size, size_y=args.size, size_z=1,
                            size_c=len(CHANNELS), size_t=1, pixels_type="uint16",
                            dimension_order=s["dimension_order"], path="", name=htd, repo=None,
                            series=i, fileset_id=1, ngff_path=None)
                 for i, s in enumerate(layout["series"])]
        print(f"Bio-Formats: {layout['reader']} ({layout['format']}), {len(infos)} series")
        buf = bytearray(max(p.stat().st_size for p in tiffs))
        _raw(tiffs, buf)  # warm the page cache
        raw_t = min(_raw(tiffs, buf) for _ in range(args.repeat))
        bf_t = ob_t = float("inf")
        for _ in range(args.repeat):  # interleaved: a loaded machine drifts between blocks
            bf_t = min(bf_t, _platform(src, infos, folder / htd))
            ob_t = min(ob_t, _openbytes(src, infos, folder / htd))
        pixel_bytes = len(infos) * len(CHANNELS) * args.size * args.size * 2
        planes = len(infos) * len(CHANNELS)
        print(f"{'raw readinto of the TIFFs':30s} {total / raw_t / 1e6:9.1f} MB/s")
        print(f"{'platform Bio-Formats read':30s} {pixel_bytes / bf_t / 1e6:9.1f} MB/s  "
              f"{planes / bf_t:9.0f} planes/s per process "
              f"({planes / bf_t / GETPLANES_PER_S:5.1f}x OMERO getPlanes ~10 planes/s)")
        print(f"{'Bio-Formats openBytes alone':30s} {pixel_bytes / ob_t / 1e6:9.1f} MB/s  "
              f"{planes / ob_t:9.0f} planes/s (the platform adds "
              f"{(bf_t - ob_t) / planes * 1e3:.2f} ms per plane)")
        memo = root / "memo"
        no_memo = min(_init(config, root, folder / htd) for _ in range(args.repeat))
        cold = _init(BioFormatsConfig(memo_dir=memo), root, folder / htd)
        warm = min(_init(BioFormatsConfig(memo_dir=memo), root, folder / htd)
                   for _ in range(args.repeat))
        print(f"reader init per plate: {no_memo * 1e3:.0f} ms without memo, "
              f"{cold * 1e3:.0f} ms cold memo (writes it), {warm * 1e3:.0f} ms warm memo")
        print(f"ratio={(pixel_bytes / bf_t) / (total / raw_t):.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
