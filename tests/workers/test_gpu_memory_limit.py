"""CUPY_GPU_MEMORY_LIMIT reaches CuPy's memory pool in GPU worker processes only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from platequeue.platform import Platform, set_platform
from platequeue.settings import SettingsError, load_settings
from workers.signals import limit_gpu_memory


@pytest.fixture
def install(tmp_path: Path) -> Iterator[object]:
    def use(**env: str) -> None:
        set_platform(Platform(load_settings({"PLATEQUEUE_HOME": str(tmp_path), **env})))

    yield use
    set_platform(None)


def test_setting_is_validated() -> None:
    def limit(value: str) -> str | None:
        return load_settings({"CUPY_GPU_MEMORY_LIMIT": value}).cupy_gpu_memory_limit

    assert limit("") is None and limit("0") is None
    assert limit("90%") == "90%" and limit("0.9") == "90%"
    assert limit("8000000000") == "8000000000"
    for bad in ("150%", "0%", "1.5", "-1", "lots"):
        with pytest.raises(SettingsError, match="CUPY_GPU_MEMORY_LIMIT"):
            limit(bad)


def test_cpu_workers_and_unset_limit_leave_cupy_alone(install) -> None:
    install(CUDA_VISIBLE_DEVICES="")  # the CPU worker
    assert limit_gpu_memory() is False
    install(CUDA_VISIBLE_DEVICES="", CUPY_GPU_MEMORY_LIMIT="50%")
    assert limit_gpu_memory() is False
    install(CUDA_VISIBLE_DEVICES="0")  # a GPU worker without a limit
    assert limit_gpu_memory() is False


@pytest.mark.gpu
def test_gpu_worker_caps_the_pool(install) -> None:
    cp = pytest.importorskip("cupy")
    from pipelines.backend import cupy_available

    if not cupy_available():
        pytest.skip("no CUDA device")
    install(CUDA_VISIBLE_DEVICES="0", CUPY_GPU_MEMORY_LIMIT="50%")
    pool = cp.get_default_memory_pool()
    try:
        assert limit_gpu_memory() is True
        total = cp.cuda.runtime.memGetInfo()[1]
        assert pool.get_limit() == pytest.approx(total / 2, rel=0.01)
    finally:
        pool.set_limit(size=0)
