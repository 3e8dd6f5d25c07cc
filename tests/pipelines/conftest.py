"""Shared fixtures for the pipeline tests: backends and label-set comparison."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def _same_objects(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two label images hold the same objects, whatever their numbering."""
    if a.shape != b.shape or not np.array_equal(a > 0, b > 0):
        return False
    fg = a > 0
    pairs = np.unique(np.stack([a[fg], b[fg]]), axis=1)
    n_a, n_b = len(np.unique(a[fg])), len(np.unique(b[fg]))
    return pairs.shape[1] == n_a == n_b


@pytest.fixture
def same_objects() -> Callable[[np.ndarray, np.ndarray], bool]:
    return _same_objects


@pytest.fixture
def cupy_mod():
    """CuPy with a usable CUDA device, else skip."""
    cp = pytest.importorskip("cupy")
    from pipelines.backend import cupy_available

    if not cupy_available():
        pytest.skip("no CUDA device")
    return cp
