"""GPU vs all-core CPU throughput of nuclei-count and cell-painting-lite.

Fields are 2048x2048, 2 channels, uint16, stored as OMERO ROMIO ``Pixels`` files would be:
raw big-endian XYZCT, no header, one file per image, read with ``np.memmap``. The GPU
path moves each field with ``pipelines.backend.to_device`` (pinned buffer, one host->
device copy, byte swap on the device) and runs the same pipeline code on CuPy; the CPU
path runs it on NumPy in a ``multiprocessing`` pool with one process per core.

Also printed: the share of GPU time per step (CUDA events) and, for the memory-bound
steps, the bandwidth achieved under a minimal-traffic model (bytes each step must at
least read and write) against the HBM peak (``--hbm-tbs``, H100 SXM: 3.35 TB/s).

Needs only numpy, scipy, cupy and this repository on PYTHONPATH. Without CuPy or a CUDA
device it prints ``skipped: no CuPy/GPU`` and exits 0.

Usage: PYTHONPATH=. python bench/pipeline_gpu.py [--fields 32] [--workers N]
Last line: ``ratio=<GPU fields/s / CPU fields/s>`` (geometric mean of both pipelines).
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

PIPELINES = ("nuclei-count", "cell-painting-lite")
CHANNELS = ["DAPI", "Actin"]
# Minimal traffic per pixel (bytes read + written) of the steps that are memory-bound.
BYTES_PER_PIXEL = {
    "background": 2 + 4 + 4,  # uint16 in, float32 out, float32 re-read for block means
    "background_cyto": 2 + 4 + 4,
    "smooth": 4 + 4,
    "threshold": 4 + 4 + 1,  # min/max pass, histogram pass, mask out
    "size_filter": 4 + 4,
    "ring": 4 + 4,
}


def _gpu_or_none() -> Any:
    try:
        import cupy
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # noqa: BLE001 - any CUDA runtime error: no usable GPU
        return None
    return cupy


def write_fields(folder: Path, n: int, size: int) -> list[Path]:
    """Write ``n`` ROMIO-style files (T=1, C=2, Z=1, big-endian uint16)."""
    from pipelines.synthetic import make_field

    distinct = []
    for seed in range(min(n, 4)):
        nuclei = make_field((size, size), seed=seed).image
        cyto = make_field((size, size), seed=seed, amplitude=(400.0, 900.0),
                          radius=(9.0, 14.0), spacing=40.0).image
        distinct.append(np.stack([nuclei, cyto])[None, :, None])  # (T, C, Z, Y, X)
    paths = []
    for i in range(n):
        path = folder / f"{1000 + i}"
        distinct[i % len(distinct)].astype(">u2").tofile(path)
        paths.append(path)
    return paths


def open_field(path: Path, size: int) -> np.ndarray:
    mm = np.memmap(path, dtype=">u2", mode="r", shape=(1, 2, 1, size, size))
    return mm[0]  # (C, Z, Y, X), zero-copy


def _cpu_worker(job: tuple[str, str, int]) -> float:
    name, path, size = job
    from pipelines import registry

    feats = registry.get(name).run_field(open_field(Path(path), size), channels=CHANNELS,
                                         params={})
    return feats["count"]


def cpu_throughput(name: str, paths: list[Path], size: int, workers: int) -> float:
    ctx = mp.get_context("spawn")  # never fork a process that may hold a CUDA context
    with ctx.Pool(workers) as pool:
        pool.map(_cpu_worker, [(name, str(p), size) for p in paths[:workers]])  # warm up
        t0 = time.perf_counter()
        pool.map(_cpu_worker, [(name, str(p), size) for p in paths], chunksize=1)
        return len(paths) / (time.perf_counter() - t0)


class CudaStepTimer:
    """Per-step GPU time from CUDA events (a ``pipelines.engine.StepTimer``)."""

    def __init__(self, cupy: Any) -> None:
        self.cp = cupy
        self.pending: list[tuple[str, Any, Any]] = []
        self.ms: dict[str, float] = defaultdict(float)

    def start(self, step_id: str) -> None:
        ev = self.cp.cuda.Event()
        ev.record()
        self.pending.append((step_id, ev, None))

    def stop(self, step_id: str) -> None:
        sid, ev0, _ = self.pending.pop()
        ev1 = self.cp.cuda.Event()
        ev1.record()
        self.pending.append((sid, ev0, ev1))

    def collect(self) -> None:
        for sid, ev0, ev1 in self.pending:
            ev1.synchronize()
            self.ms[sid] += self.cp.cuda.get_elapsed_time(ev0, ev1)
        self.pending.clear()


def gpu_throughput(cp: Any, name: str, paths: list[Path], size: int,
                   hbm_tbs: float) -> float:
    from pipelines import registry
    from pipelines.backend import free_gpu_memory, to_device

    pipe = registry.get(name)
    params = pipe.resolve_params({})
    for p in paths[:2]:  # warm up: kernel compilation, pools
        pipe.run_field(to_device(open_field(p, size), "gpu"), channels=CHANNELS, params=params)
    timer = CudaStepTimer(cp)
    copy_s = 0.0
    t0 = time.perf_counter()
    for p in paths:
        t1 = time.perf_counter()
        dev = to_device(open_field(p, size), "gpu")
        copy_s += time.perf_counter() - t1
        pipe.run_field(dev, channels=CHANNELS, params=params, timer=timer)
        timer.collect()
    wall = time.perf_counter() - t0
    n = len(paths)
    field_bytes = 2 * size * size * 2
    print(f"  {name}: read+copy to device {1e3 * copy_s / n:.2f} ms/field "
          f"({field_bytes * n / copy_s / 1e9:.1f} GB/s from page cache through pinned memory)")
    total_ms = sum(timer.ms.values())
    print(f"  {name}: GPU step time {total_ms / n:.2f} ms/field, "
          f"wall {1e3 * wall / n:.2f} ms/field")
    for sid, ms in sorted(timer.ms.items(), key=lambda kv: -kv[1]):
        line = f"    {sid:16s} {ms / n:8.3f} ms  {100 * ms / max(total_ms, 1e-9):5.1f}%"
        if sid in BYTES_PER_PIXEL and ms > 0:
            tbs = BYTES_PER_PIXEL[sid] * size * size * n / (ms / 1e3) / 1e12
            line += f"  {tbs:6.3f} TB/s = {100 * tbs / hbm_tbs:5.1f}% of HBM (min-traffic model)"
        print(line)
    free_gpu_memory()
    return n / wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=32)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--hbm-tbs", type=float, default=3.35)
    parser.add_argument("--cpu-only", action="store_true", help="check the CPU half only")
    args = parser.parse_args()

    cp = None if args.cpu_only else _gpu_or_none()
    if cp is None and not args.cpu_only:
        print("skipped: no CuPy/GPU (install cupy-cuda12x and run on a CUDA machine)")
        return 0
    if cp is not None:
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        print(f"GPU: {props['name'].decode()}, CuPy {cp.__version__}")
    print(f"{args.fields} fields {args.size}x{args.size}x2 uint16 big-endian on disk; "
          f"CPU pool of {args.workers} processes")
    ratios = []
    with tempfile.TemporaryDirectory(prefix="pq-bench-") as tmp:
        paths = write_fields(Path(tmp), args.fields, args.size)
        for name in PIPELINES:
            cpu = cpu_throughput(name, paths, args.size, args.workers)
            print(f"{name}: CPU {cpu:.2f} fields/s ({args.workers} processes)")
            if cp is None:
                continue
            gpu = gpu_throughput(cp, name, paths, args.size, args.hbm_tbs)
            print(f"{name}: GPU {gpu:.2f} fields/s, GPU/CPU {gpu / cpu:.2f}")
            ratios.append(gpu / cpu)
    if not ratios:
        print("cpu-only run: no ratio")
        return 0
    print(f"ratio={math.exp(sum(math.log(r) for r in ratios) / len(ratios)):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
