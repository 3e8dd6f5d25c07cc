"""CuPy results equal NumPy results (skipped without CuPy and a CUDA device)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import registry, steps
from pipelines.backend import free_gpu_memory, to_device
from pipelines.synthetic import make_field

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("name", ["nuclei-count", "cell-painting-lite", "field-qc"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_pipelines_same_on_cupy(cupy_mod, name, dtype) -> None:
    img = make_field((192, 256), dtype=dtype, seed=7).image
    field = np.stack([img, img[::-1]])[:, None]
    p = registry.get(name)
    cpu = p.run_field(field, channels=["DAPI", "Actin"], params={})
    gpu = p.run_field(to_device(field, "gpu"), channels=["DAPI", "Actin"], params={})
    assert cpu.keys() == gpu.keys()
    for key in cpu:
        assert gpu[key] == pytest.approx(cpu[key], rel=1e-4, abs=1e-3), key
    free_gpu_memory()


def test_big_endian_to_gpu(cupy_mod) -> None:
    field = np.arange(2 * 3 * 40 * 50, dtype=">u2").reshape(2, 3, 40, 50)
    dev = to_device(field, "gpu")
    assert isinstance(dev, cupy_mod.ndarray) and dev.dtype == np.uint16
    np.testing.assert_array_equal(dev.get(), field)
    big = np.arange(2 * 1 * 600 * 600, dtype=">f4").reshape(2, 1, 600, 600)  # pinned path
    np.testing.assert_array_equal(to_device(big, "gpu").get(), big)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_steps_same_on_cupy(cupy_mod, dtype, same_objects) -> None:
    img = make_field((128, 160), dtype=dtype, seed=8).image
    dimg = cupy_mod.asarray(img)
    assert steps.otsu_threshold(dimg).get() == steps.otsu_threshold(img)
    mask = steps.threshold_otsu(steps.gaussian_smooth(img))
    dmask = steps.threshold_otsu(steps.gaussian_smooth(dimg))
    np.testing.assert_array_equal(dmask.get(), mask)
    lab, n = steps.label(mask)
    dlab, dn = steps.label(dmask)
    assert n == dn and same_objects(dlab.get(), lab)
    kept = steps.remove_small_objects(lab, min_size=20, n_labels=n)
    dkept = steps.remove_small_objects(dlab, min_size=20, n_labels=dn)
    assert same_objects(dkept.get(), kept)
    ws, _ = steps.watershed_split(kept, min_distance=4, n_labels=n)
    dws, _ = steps.watershed_split(dkept, min_distance=4, n_labels=dn)
    assert ws.max() == int(dws.max())
    ring = steps.ring_labels(kept, width=3)
    np.testing.assert_array_equal(steps.ring_labels(dkept, width=3).get() > 0, ring > 0)
