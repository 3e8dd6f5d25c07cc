"""Backend helpers on the host (the CuPy side is in test_gpu.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import backend


def test_array_namespace_numpy() -> None:
    assert backend.array_namespace(np.zeros(3), None, 1.0) is np
    assert backend.ndimage_for(np).__name__ == "scipy.ndimage"


@pytest.mark.parametrize("dtype", [">u2", ">f4", "<u2", "u1"])
def test_to_device_cpu_native(dtype) -> None:
    field = np.arange(2 * 1 * 4 * 5).astype(dtype).reshape(2, 1, 4, 5)
    out = backend.to_device(field, "cpu")
    assert out.dtype.isnative and out.dtype == field.dtype.newbyteorder("=")
    np.testing.assert_array_equal(out, field)
    if field.dtype.isnative:
        assert out is field


def test_to_device_rejects_bad_device() -> None:
    with pytest.raises(ValueError, match="'tpu'"):
        backend.to_device(np.zeros((1, 1, 2, 2)), "tpu")


def test_bincount_exact_length() -> None:
    labels = np.array([[0, 1], [3, 1]], dtype=np.int32)
    np.testing.assert_array_equal(backend.bincount(labels, length=5), [1, 2, 0, 1, 0])
    w = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    np.testing.assert_allclose(backend.bincount(labels, w, length=4), [1, 6, 0, 3])


def test_gpu_helpers_are_noops_without_cupy() -> None:
    if backend.cupy_available():
        pytest.skip("CuPy present: covered by test_gpu.py")
    backend.free_gpu_memory()
    backend.set_gpu_memory_limit("50%")
    assert backend.to_host(np.ones(2)).tolist() == [1.0, 1.0]
