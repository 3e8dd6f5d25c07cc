"""Source kinds of ``bench/read_repo.py`` other than ROMIO: OME-TIFF, OME-Zarr, pyramid.

Each ``bench_<kind>(root, args)`` writes ``args.sample`` fields of ``args.channels`` x
``args.size`` x ``args.size`` uint16 nuclei images under *root* the way OMERO keeps them,
warms the page cache, and times the platform's ``RepositoryReader.open_field`` against the
baseline (plain reads of the same bytes; for compressed kinds, plus decoding with the codec
alone), returning a :class:`Row`.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import imagecodecs
import numcodecs
import numpy as np
import tifffile
import zarr

from platequeue.demo import field_rng, formats, make_field
from platequeue.omero import PixelsInfo, RepositoryReader, romio_relpath

GETPLANES_PER_S = 10.0


@dataclass
class Row:
    """One source kind's result: seconds for the same decoded bytes both ways."""

    kind: str
    nbytes: int
    planes: int
    platform_s: float
    baseline_s: float
    baseline: str

    def line(self) -> str:
        mbs, base = self.nbytes / self.platform_s / 1e6, self.nbytes / self.baseline_s / 1e6
        return (f"{self.kind:9s} platform {mbs:8.1f} MB/s | {self.baseline:24s} {base:8.1f} MB/s"
                f" | ratio {self.baseline_s / self.platform_s:6.3f}"
                f" | {self.planes / self.platform_s:7.0f} planes/s"
                f" ({self.planes / self.platform_s / GETPLANES_PER_S:5.0f}x getPlanes)")


def fields(args: argparse.Namespace) -> list[np.ndarray]:
    """``args.sample`` synthetic nuclei fields ``(C, Y, X)`` uint16 (compress like real ones)."""
    return [make_field(field_rng(0, 0, i), 5 + i % 20, size_y=args.size, size_x=args.size,
                       channels=args.channels, dtype=np.uint16) for i in range(args.sample)]


def infos(args: argparse.Namespace, **over: object) -> list[PixelsInfo]:
    base = PixelsInfo(id=0, image_id=0, image_name="f", size_x=args.size, size_y=args.size,
                      size_z=1, size_c=args.channels, size_t=1, pixels_type="uint16",
                      dimension_order="XYZCT", path=None, name=None, repo=None, series=0,
                      fileset_id=None, ngff_path=None)
    return [replace(base, id=1_000_001 + i, image_id=50_001 + i, image_name=f"f{i}",
                    **{k: (v(i) if callable(v) else v) for k, v in over.items()})
            for i in range(args.sample)]


def timed(*fns: Callable[[], object], repeat: int) -> list[float]:
    """Best of *repeat* timings of each of *fns*, run in turns (so that a burst of load on a
    shared machine hits both sides alike); one untimed turn first warms the page cache."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def platform_reads(reader: RepositoryReader, pix: list[PixelsInfo]) -> Callable[[], object]:
    """Every field through ``open_field(native=True, out=...)``, as the ROMIO row does
    (OME-TIFF and OME-Zarr fill *out*; the pyramid allocates its own array)."""
    first = pix[0]
    out = np.empty((first.size_c, first.size_z, first.size_y, first.size_x), np.uint16)
    return lambda: [reader.open_field(info, native=True, out=out) for info in pix]


def row(kind: str, args: argparse.Namespace, pix: list[PixelsInfo], reader: RepositoryReader,
        baseline: Callable[[], object], what: str) -> Row:
    nbytes = len(pix) * args.channels * args.size * args.size * 2
    base_s, platform_s = timed(baseline, platform_reads(reader, pix), repeat=args.repeat)
    return Row(kind, nbytes, len(pix) * args.channels, platform_s, base_s, what)


def bench_ometiff(root: Path, args: argparse.Namespace) -> Row:
    rel = "u_2/2024-03/05/10-00-00.000"
    folder = root / "ManagedRepository" / rel
    folder.mkdir(parents=True)
    path = folder / "plate.ome.tiff"
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tw:
        for f in fields(args):
            tw.write(f[:, None], metadata={"axes": "CZYX"}, photometric="minisblack")
    pix = infos(args, path=rel + "/", name=path.name, repo="r1", series=lambda i: i)
    with tifffile.TiffFile(path) as tf:
        strips = [[(o, n) for p in s.pages for o, n in zip(p.dataoffsets, p.databytecounts,
                                                          strict=True)] for s in tf.series]
    buf = bytearray(args.channels * args.size * args.size * 2)

    def baseline() -> None:  # a well task reads one field: open, read its strips, close
        for field in strips:
            fd = os.open(path, os.O_RDONLY)
            try:
                pos = 0
                for offset, n in field:
                    os.preadv(fd, [memoryview(buf)[pos:pos + n]], offset)
                    pos += n
            finally:
                os.close(fd)

    reader = RepositoryReader(root, {"r1": "ManagedRepository"})
    return row("ometiff", args, pix, reader, baseline, "open + pread strips")


def bench_ngff(root: Path, args: argparse.Namespace, version: str) -> Row:
    v3 = version == "0.5"
    paths = []
    for i, f in enumerate(fields(args)):
        rel = f"ngff/plate.zarr/A/{i + 1}/0"
        img = zarr.open_group(root / rel, mode="w", zarr_format=3 if v3 else 2)
        arr = img.create_array("0", shape=(1, args.channels, 1, args.size, args.size),
                               chunks=(1, 1, 1, args.size, args.size), dtype="<u2" if v3 else ">u2")
        arr[...] = f[None, :, None]
        ms = {"axes": [{"name": a} for a in "tczyx"], "datasets": [{"path": "0"}]}
        if v3:
            img.attrs["ome"] = {"version": "0.5", "multiscales": [ms]}
        else:
            img.attrs["multiscales"] = [{**ms, "version": "0.4"}]
        paths.append(rel)
    pix = infos(args, ngff_path=lambda i: paths[i])
    probe = zarr.open_array(root / paths[0] / "0", mode="r")
    codec = numcodecs.Zstd() if v3 else numcodecs.get_codec(
        probe.metadata.compressor.get_config())  # type: ignore[union-attr]
    keys = [f"c/0/{c}/0/0/0" if v3 else f"0.{c}.0.0.0" for c in range(args.channels)]
    chunks = [[root / rel / "0" / k for k in keys] for rel in paths]
    out = np.empty((args.channels, args.size, args.size), dtype=np.uint16)
    dtype = np.dtype("<u2" if v3 else ">u2")

    def baseline() -> None:
        for field in chunks:
            for c, chunk in enumerate(field):
                raw = codec.decode(chunk.read_bytes())
                np.copyto(out[c], np.frombuffer(raw, dtype).reshape(args.size, args.size))

    name = "Zstd" if v3 else "Blosc"
    return row(f"ngff-{version}", args, pix, RepositoryReader(root), baseline,
               f"read + {name} decode")


def bench_pyramid(root: Path, args: argparse.Namespace) -> Row:
    pix = infos(args)
    for info, f in zip(pix, fields(args), strict=True):
        formats.write_pyramid(root / (romio_relpath(info.id) + "_pyramid"), f[None, :, None],
                      tile=256, resolutions=5)
    tiles = []
    for info in pix:
        with tifffile.TiffFile(root / (romio_relpath(info.id) + "_pyramid")) as tf:
            tiles.append((tf.filehandle.path, [
                list(zip(p.dataoffsets, p.databytecounts, strict=True))  # type: ignore[union-attr]
                for p in tf.pages]))

    def baseline() -> None:
        for path, pages in tiles:
            with open(path, "rb") as fh:
                for page in pages:
                    for offset, n in page:
                        fh.seek(offset)
                        imagecodecs.jpeg2k_decode(fh.read(n))

    return row("pyramid", args, pix, RepositoryReader(root), baseline,
               "read + jpeg2k_decode")
