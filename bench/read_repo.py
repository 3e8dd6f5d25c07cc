"""Read-path benchmark: the platform's field read per source kind vs plain reads of the bytes.

For each source kind a plate is generated in a temporary folder, the page cache warmed,
and every field read by each path in turns (best of ``--repeat``):

* ``romio`` — ``Pixels/<id>`` files (default 384 wells x 4 fields x 2 channels x 512 x 512
  uint16, about 1.6 GB). Baseline: ``open().readinto`` of each file into a reused buffer
  (page cache -> user memory, the physical limit). Platform:
  ``RepositoryReader.open_field(native=True)``, what ``Platform.read_field`` does for CPU
  wells (source choice in OMERO's order, allowed-roots check, size and never-written-plane
  checks, big-endian -> native: ``preadv`` into a cache-resident scratch, cast into the
  field); also the same cast to float32 and the zero-copy memory-mapped view cast to
  float32.  The baseline leaves the bytes big-endian: it skips the byte-order conversion
  the platform must do (one more pass over the data, cache-hot but not free), so the
  ``swap floor`` line (the baseline's ``readinto`` plus one cast of the whole field, no
  checks) shows roughly what ratio the conversion alone leaves: about 0.7 for 512 x 512
  fields on a 2-core EPYC (the platform casts in cache-sized pieces, which beats this
  floor once a field outgrows the CPU cache).
* ``ometiff`` — one uncompressed multi-series OME-TIFF per plate in a ManagedRepository
  (``--sample`` fields). Baseline: per field (as a well task reads it) open the file and
  ``os.preadv`` each plane's strips (the offsets known in advance). The platform also
  probes for a pyramid and a ROMIO file first (OMERO's order), checks the roots, and
  validates its cached plane index against the file (``fstat``): a fixed cost per field.
* ``ngff-0.4`` / ``ngff-0.5`` — OME-Zarr images (zarr v2 Blosc-LZ4 / zarr v3 Zstd, the
  zarr-python defaults, one chunk per plane). Baseline: read each chunk file (paths known
  in advance) and decode it with the codec alone (numcodecs; for 0.4's big-endian chunks
  the byte swap happens in its copy, as in the platform's). The platform also reads (or
  ``stat``s, when remembered) the group and array metadata and checks every chunk path.
* ``pyramid`` — ``Pixels/<id>_pyramid`` in OMERO's format (JPEG-2000 tiles, lossless).
  Baseline: read each tile's bytes and ``imagecodecs.jpeg2k_decode`` it.

MB/s are of decoded pixels. Each kind prints platform MB/s, baseline MB/s and their ratio
(aim >= 0.8 for uncompressed kinds); planes/s are compared with OMERO's ``getPlanes``
anchor (about 10 planes/s per client, IDR/idr-metadata#685). The last line is
``ratio=<reader MB/s / raw MB/s>`` for ROMIO's native uint16 path. Another source kind is
one more entry in :data:`KINDS`. The temporary data is removed at the end.

Usage: ``.venv/bin/python bench/read_repo.py [--wells 384] [--fields 4] [--size 512]
[--sample 64] [--kinds romio,ometiff,ngff-0.4,ngff-0.5,pyramid]``
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from read_kinds import Row, bench_ngff, bench_ometiff, bench_pyramid, timed  # bench/ is sys.path[0]

from platequeue.demo import write_romio
from platequeue.omero import PixelsInfo, RepositoryReader, read_field, read_field_native, romio_path

logger = logging.getLogger(__name__)


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


def _raw(root: Path, infos: list[PixelsInfo], buf: bytearray) -> None:
    view = memoryview(buf)
    for info in infos:
        with open(romio_path(root, info.id), "rb", buffering=0) as fh:
            fh.readinto(view)


def _swap_floor(root: Path, infos: list[PixelsInfo], buf: bytearray, out: np.ndarray) -> None:
    """The baseline plus the big-endian -> native cast the platform must do (no checks)."""
    view, disk = memoryview(buf), np.frombuffer(buf, ">u2").reshape(out.shape)
    for info in infos:
        with open(romio_path(root, info.id), "rb", buffering=0) as fh:
            fh.readinto(view)
        np.copyto(out, disk)


def _reader_native(root: Path, infos: list[PixelsInfo], out: np.ndarray) -> None:
    reader = RepositoryReader(root)  # what Platform.read_field(native=True) does
    for info in infos:
        reader.open_field(info, native=True, out=out)


def _reader_float(root: Path, infos: list[PixelsInfo], native: np.ndarray,
                  out: np.ndarray) -> None:
    for info in infos:
        np.copyto(out, read_field_native(root, info, out=native), casting="unsafe")


def _reader_memmap(root: Path, infos: list[PixelsInfo], out: np.ndarray) -> None:
    for info in infos:
        np.copyto(out, read_field(root, info), casting="unsafe")


def bench_romio(root: Path, args: argparse.Namespace) -> Row:
    infos = _infos(args.wells * args.fields, args.channels, args.size)
    t0 = time.perf_counter()
    total = _generate(root, infos)
    print(f"romio: generated {len(infos)} fields, {total / 1e9:.2f} GB "
          f"({time.perf_counter() - t0:.1f} s)")
    buf = bytearray(total // len(infos))
    native = np.empty((args.channels, 1, args.size, args.size), dtype=np.uint16)
    f32 = np.empty(native.shape, dtype=np.float32)
    # in turns, best of --repeat each (the shared machine's load hits every path alike)
    raw_t, nat_t, f32_t, mm_t, floor_t = timed(
        lambda: _raw(root, infos, buf), lambda: _reader_native(root, infos, native),
        lambda: _reader_float(root, infos, native, f32),
        lambda: _reader_memmap(root, infos, f32),
        lambda: _swap_floor(root, infos, buf, native), repeat=args.repeat)
    planes = len(infos) * args.channels
    print(f"  romio {'swap floor (no checks)':24s} {total / floor_t / 1e6:9.1f} MB/s  ratio "
          f"{raw_t / floor_t:6.3f}  (readinto + one cast to native, no checks)")
    for name, secs in (("reader -> float32", f32_t), ("memmap view -> float32", mm_t)):
        print(f"  romio {name:24s} {total / secs / 1e6:9.1f} MB/s  ratio {raw_t / secs:6.3f}"
              "  (writes 2x the bytes)")
    return Row("romio", total, planes, nat_t, raw_t, "raw readinto")


KINDS: dict[str, Callable[[Path, argparse.Namespace], Row]] = {
    "romio": bench_romio,
    "ometiff": bench_ometiff,
    "ngff-0.4": lambda root, args: bench_ngff(root, args, "0.4"),
    "ngff-0.5": lambda root, args: bench_ngff(root, args, "0.5"),
    "pyramid": bench_pyramid,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wells", type=int, default=384)
    ap.add_argument("--fields", type=int, default=4)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--sample", type=int, default=64,
                    help="fields per plate for the non-ROMIO kinds")
    ap.add_argument("--kinds", default=",".join(KINDS))
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        ap.error(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
    rows: list[Row] = []
    for kind in sorted(kinds, key=lambda k: k == "romio"):  # romio last: its ratio ends
        root = Path(tempfile.mkdtemp(prefix=f"pq_read_{kind}_"))
        try:
            rows.append(KINDS[kind](root, args))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(f"cpu count {os.cpu_count()}; fields {args.channels} x {args.size} x {args.size} "
          "uint16")
    for row in rows:
        print(row.line())
    romio = next((r for r in rows if r.kind == "romio"), None)
    if romio is not None:
        print(f"ratio={romio.baseline_s / romio.platform_s:.3f}")


if __name__ == "__main__":
    main()
