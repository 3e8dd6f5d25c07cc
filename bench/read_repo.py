"""Read-path benchmark: the platform's ROMIO reader vs plain file reads of the same bytes.

Generates a plate of >= 1 GB of ``Pixels/<id>`` files in a temporary folder
(default 384 wells x 4 fields x 2 channels x 512 x 512 uint16, about 1.6 GB),
warms the page cache, then reads every field

* raw: ``open().readinto`` of each file into a reused buffer (the physical limit
  for these bytes: page cache -> user memory);
* reader: ``RepositoryReader.open_field(native=True)``, what ``Platform.read_field`` does
  for CPU wells (source choice in OMERO's order, path rules, size and
  never-written-plane checks, one ``readinto`` big-endian -> native uint16), the same
  then cast to float32, and the zero-copy memory-mapped view cast to float32;

and prints MB/s, planes/s per process against OMERO's ``getPlanes`` anchor
(about 10 planes/s per client, IDR/idr-metadata#685).  The last line is
``ratio=<reader MB/s / raw MB/s>`` for the native uint16 path.  The temporary
data is removed at the end.

Usage: ``.venv/bin/python bench/read_repo.py [--wells 384] [--fields 4] [--size 512]``
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from platequeue.demo import write_romio
from platequeue.omero import PixelsInfo, RepositoryReader, read_field, read_field_native, romio_path

logger = logging.getLogger(__name__)
GETPLANES_PER_S = 10.0


def _infos(n: int, channels: int, size: int) -> list[PixelsInfo]:
    return [PixelsInfo(id=1_000_001 + i, image_id=50_001 + i, image_name=f"f{i}", size_x=size,
                       size_y=size, size_z=1, size_c=channels, size_t=1, pixels_type="uint16",
                       dimension_order="XYZCT", path=None, name=None, repo=None, series=0,
                       fileset_id=None, ngff_path=None) for i in range(n)]


def _generate(root: Path, infos: list[PixelsInfo]) -> int:
    rng = np.random.default_rng(0)
    first = infos[0]
    base = rng.integers(200, 4000, size=(1, first.size_c, 1, first.size_y, first.size_x),
                        dtype=np.uint16)
    for i, info in enumerate(infos):
        base[0, 0, 0, 0, :8] = i % 65535 + 1  # make files differ a little
        write_romio(root, info.id, base, "uint16")
    return sum(romio_path(root, i.id).stat().st_size for i in infos)


def _raw(root: Path, infos: list[PixelsInfo], buf: bytearray) -> float:
    t0 = time.perf_counter()
    view = memoryview(buf)
    for info in infos:
        with open(romio_path(root, info.id), "rb", buffering=0) as fh:
            fh.readinto(view)
    return time.perf_counter() - t0


def _reader_native(root: Path, infos: list[PixelsInfo], out: np.ndarray) -> float:
    reader = RepositoryReader(root)  # what Platform.read_field(native=True) does
    t0 = time.perf_counter()
    for info in infos:
        reader.open_field(info, native=True, out=out)
    return time.perf_counter() - t0


def _reader_float(root: Path, infos: list[PixelsInfo], native: np.ndarray,
                  out: np.ndarray) -> float:
    t0 = time.perf_counter()
    for info in infos:
        np.copyto(out, read_field_native(root, info, out=native), casting="unsafe")
    return time.perf_counter() - t0


def _reader_memmap(root: Path, infos: list[PixelsInfo], out: np.ndarray) -> float:
    t0 = time.perf_counter()
    for info in infos:
        np.copyto(out, read_field(root, info), casting="unsafe")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wells", type=int, default=384)
    ap.add_argument("--fields", type=int, default=4)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    infos = _infos(args.wells * args.fields, args.channels, args.size)
    root = Path(tempfile.mkdtemp(prefix="pq_read_repo_"))
    try:
        t0 = time.perf_counter()
        total = _generate(root, infos)
        print(f"generated {len(infos)} fields, {total / 1e9:.2f} GB in {root} "
              f"({time.perf_counter() - t0:.1f} s)")
        field_bytes = total // len(infos)
        buf = bytearray(field_bytes)
        native = np.empty((args.channels, 1, args.size, args.size), dtype=np.uint16)
        f32 = np.empty(native.shape, dtype=np.float32)
        _raw(root, infos, buf)  # warm the page cache
        raw_t = min(_raw(root, infos, buf) for _ in range(args.repeat))
        nat_t = min(_reader_native(root, infos, native) for _ in range(args.repeat))
        f32_t = min(_reader_float(root, infos, native, f32) for _ in range(args.repeat))
        mm_t = min(_reader_memmap(root, infos, f32) for _ in range(args.repeat))
        planes = len(infos) * args.channels
        for name, secs in (("raw readinto", raw_t), ("reader -> uint16 native", nat_t),
                           ("reader -> float32", f32_t), ("memmap view -> float32", mm_t)):
            print(f"{name:26s} {total / secs / 1e6:9.1f} MB/s  {planes / secs:9.0f} planes/s"
                  f"  ({planes / secs / GETPLANES_PER_S:7.0f}x OMERO getPlanes ~10 planes/s)")
        print(f"float32 path ratio={raw_t / f32_t:.3f} (writes 2x the bytes)")
        print(f"ratio={raw_t / nat_t:.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
