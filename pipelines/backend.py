"""Array backend helpers: one code path on NumPy and CuPy.

Steps call :func:`array_namespace` on their input and :func:`ndimage_for` for filters, so
the same code runs on ``numpy``/``scipy.ndimage`` and ``cupy``/``cupyx.scipy.ndimage``.
Arrays never change device inside a step: :func:`to_device` at the task boundary moves a
field once, and the engine brings back only the measurements.

GPU memory: CuPy reads ``CUPY_GPU_MEMORY_LIMIT`` (bytes, or a percentage such as ``"50%"``)
itself when its memory pool starts; :func:`set_gpu_memory_limit` sets the same limit
explicitly, so a worker can pass it from its settings instead of the environment.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "array_namespace",
    "bincount",
    "cupy_available",
    "free_gpu_memory",
    "is_gpu_array",
    "ndimage_for",
    "set_gpu_memory_limit",
    "to_device",
    "to_host",
]

_PINNED_MIN_BYTES = 1 << 20  # below 1 MiB a plain (pageable) copy is as fast
_pinned_cache: dict[str, Any] = {}


def _cupy() -> ModuleType | None:
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def cupy_available() -> bool:
    """Return True when CuPy imports and sees at least one CUDA device."""
    cp = _cupy()
    if cp is None:
        return False
    try:
        return int(cp.cuda.runtime.getDeviceCount()) > 0
    except Exception:  # noqa: BLE001 - any CUDA runtime error means "no usable GPU"
        return False


def is_gpu_array(x: object) -> bool:
    """Return True for CuPy arrays (decided by type, without importing CuPy)."""
    return type(x).__module__.split(".")[0] in ("cupy", "cupyx")


def array_namespace(*arrays: object) -> ModuleType:
    """Return ``cupy`` when the arrays are CuPy arrays, else ``numpy``.

    Raises
    ------
    ValueError
        If CuPy and NumPy arrays are mixed (no silent device moves).
    """
    gpu = [is_gpu_array(a) for a in arrays if a is not None and not np.isscalar(a)]
    if any(gpu):
        if not all(gpu):
            raise ValueError("mixed CuPy and NumPy arrays; move data with to_device() first")
        import cupy

        return cupy
    return np


def ndimage_for(xp: ModuleType) -> ModuleType:
    """Return ``cupyx.scipy.ndimage`` for CuPy, ``scipy.ndimage`` otherwise."""
    if xp.__name__ == "cupy":
        import cupyx.scipy.ndimage as cndi

        return cndi
    import scipy.ndimage as ndi

    return ndi


def bincount(x: Any, weights: Any = None, *, length: int) -> Any:
    """Histogram of non-negative integer labels, exactly ``length`` bins long.

    ``numpy.bincount`` on the host; on CuPy an atomic scatter-add, because
    ``cupy.bincount`` reads the maximum back to the host (a hidden sync).
    Values ``>= length`` are not allowed.
    """
    xp = array_namespace(x)
    flat = x.reshape(-1)
    if xp is np:
        w = None if weights is None else weights.reshape(-1)
        return np.bincount(flat, weights=w, minlength=length)[:length]
    import cupyx

    if weights is None:
        ones = xp.ones(flat.size, dtype=xp.float64)
        counts = xp.zeros(length, dtype=xp.float64)
        cupyx.scatter_add(counts, flat, ones)
        return counts.astype(xp.int64)
    out = xp.zeros(length, dtype=xp.float64)
    cupyx.scatter_add(out, flat, weights.reshape(-1).astype(xp.float64, copy=False))
    return out


def to_host(values: Any) -> np.ndarray:
    """Copy an array to the host as NumPy (one transfer; a synchronization point)."""
    if is_gpu_array(values):
        return values.get()  # synchronize: the one device->host copy of a task
    return np.asarray(values)


def _native(dtype: np.dtype) -> np.dtype:
    return dtype.newbyteorder("=") if not dtype.isnative else dtype


def _pinned(nbytes: int) -> np.ndarray:
    """A cached page-locked host buffer of at least ``nbytes`` (grows on demand)."""
    import cupy

    buf = _pinned_cache.get("buf")
    if buf is None or buf.nbytes < nbytes:
        mem = cupy.cuda.alloc_pinned_memory(nbytes)
        buf = np.frombuffer(mem, dtype=np.uint8, count=nbytes)
        _pinned_cache["buf"] = buf
        _pinned_cache["mem"] = mem
    return buf[:nbytes]


def to_device(field: np.ndarray, device: str = "cpu") -> Any:
    """Convert a (possibly big-endian, memory-mapped) NumPy field for a backend.

    Parameters
    ----------
    field : numpy.ndarray, shape (C, Z, Y, X) or any shape
        Host array, e.g. a ``np.memmap`` of an OMERO ``Pixels`` file (``>u2``).
    device : {"cpu", "gpu"}
        ``"cpu"`` returns a native-endian NumPy array (the same object when it already
        is one). ``"gpu"`` copies the raw bytes once into a pinned host buffer, makes
        one host->device copy and swaps bytes on the device when needed.

    Returns
    -------
    numpy.ndarray or cupy.ndarray
        Native-endian array with the same shape and values.
    """
    if device not in ("cpu", "gpu"):
        raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}")
    if is_gpu_array(field):
        if device == "gpu":
            return field
        raise ValueError("to_device expects a host array; use to_host() for CuPy arrays")
    arr = np.asarray(field)
    native = _native(arr.dtype)
    if device == "cpu":
        return arr if arr.dtype.isnative else arr.astype(native)
    import cupy

    raw_dtype = native if arr.dtype.isnative else arr.dtype
    if arr.nbytes >= _PINNED_MIN_BYTES:
        host = _pinned(arr.nbytes).view(raw_dtype).reshape(arr.shape)
        np.copyto(host, arr, casting="no")  # page cache -> pinned, no byte swap on the CPU
    else:
        host = np.ascontiguousarray(arr)
    dev = cupy.empty(arr.shape, dtype=native)
    dev.set(host.view(native))
    if not arr.dtype.isnative and arr.dtype.itemsize > 1:
        u8 = dev.view(cupy.uint8).reshape(-1, arr.dtype.itemsize)
        dev = cupy.ascontiguousarray(u8[:, ::-1]).view(native).reshape(arr.shape)
    cupy.cuda.get_current_stream().synchronize()  # synchronize: pinned buffer is reused
    return dev


def free_gpu_memory() -> None:
    """Free CuPy's device and pinned memory pools (no-op without CuPy)."""
    cp = _cupy()
    _pinned_cache.clear()
    if cp is None:
        return
    try:
        cp.get_default_memory_pool().free_all_blocks()
        cp.get_default_pinned_memory_pool().free_all_blocks()
    except Exception:
        logger.debug("no CUDA device; nothing to free", exc_info=True)


def set_gpu_memory_limit(limit: int | str | None) -> None:
    """Limit CuPy's default memory pool, like ``CUPY_GPU_MEMORY_LIMIT`` does.

    Parameters
    ----------
    limit : int, str or None
        Bytes (``int`` or digit string), a fraction of device memory as ``"50%"``,
        or None / ``0`` for no limit.
    """
    cp = _cupy()
    if cp is None:
        return
    pool = cp.get_default_memory_pool()
    if limit is None or limit in (0, "0", ""):
        pool.set_limit(size=0)
    elif isinstance(limit, str) and limit.endswith("%"):
        frac = float(limit[:-1]) / 100.0
        if not 0.0 < frac <= 1.0:
            raise ValueError(f"memory limit fraction must be in (0%, 100%], got {limit!r}")
        pool.set_limit(fraction=frac)
    else:
        size = int(limit)
        if size < 0:
            raise ValueError(f"memory limit must be >= 0 bytes, got {limit!r}")
        pool.set_limit(size=size)
