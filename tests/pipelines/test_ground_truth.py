"""Whole pipelines on synthetic fields with known nuclei, and on-disk big-endian input."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import registry
from pipelines.backend import to_device
from pipelines.synthetic import make_field

DTYPES = [np.uint8, np.uint16, np.float32]
SHAPES = [(128, 128), (150, 230)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_nuclei_count_recovers_ground_truth(dtype, shape, seed) -> None:
    truth = make_field(shape, dtype=dtype, seed=seed)
    feats = registry.get("nuclei-count").run_field(truth.image[None, None],
                                                   channels=["DAPI"], params={})
    assert feats["count"] == truth.count
    assert all(isinstance(v, float) for v in feats.values())
    assert {"count", "mean_area", "mean_intensity", "integrated_intensity"} <= set(feats)
    expected_area = float(np.mean(np.pi * truth.radii**2))
    assert abs(feats["mean_area"] - expected_area) / expected_area < 0.25


def test_watershed_enabled_keeps_separated_count() -> None:
    truth = make_field((160, 160), seed=3)
    feats = registry.get("nuclei-count").run_field(
        truth.image[None, None], channels=["DAPI"], params={"split.enabled": "true"})
    assert feats["count"] == truth.count


def test_z_stack_and_cell_painting_lite() -> None:
    truth = make_field((128, 160), seed=2)
    cyto = make_field((128, 160), seed=2, amplitude=(500.0, 600.0)).image
    field = np.stack([np.stack([truth.image // 2, truth.image]), np.stack([cyto, cyto])])
    feats = registry.get("cell-painting-lite").run_field(field, channels=["Hoechst", "Actin"],
                                                         params={})
    assert feats["count"] == truth.count == feats["ring_count"]
    assert feats["ring_mean_area"] > 0 and "ring_mean_intensity_cyto" in feats


def test_big_endian_memmap_matches_native(tmp_path) -> None:
    """ROMIO layout: raw big-endian XYZCT, read through np.memmap (T, C, Z, Y, X)."""
    truth = make_field((96, 128), seed=4)
    t, c, z = 1, 2, 1
    planes = np.stack([truth.image, truth.image[::-1]])[None, :, None]  # (T, C, Z, Y, X)
    path = tmp_path / "1234"
    planes.astype(">u2").tofile(path)
    mm = np.memmap(path, dtype=">u2", mode="r", shape=(t, c, z, 96, 128))
    p = registry.get("nuclei-count")
    on_disk = p.run_field(mm[0], channels=["DAPI", "other"], params={})
    native = p.run_field(planes[0].astype(np.uint16), channels=["DAPI", "other"], params={})
    assert on_disk == native and on_disk["count"] == truth.count
    host = to_device(mm[0], "cpu")
    assert host.dtype == np.uint16 and host.dtype.isnative
    np.testing.assert_array_equal(host, planes[0])


def test_field_qc_pipeline() -> None:
    truth = make_field((64, 64), seed=5)
    feats = registry.get("field-qc").run_field(truth.image[None, None], channels=["x"],
                                               params={})
    assert feats["qc_focus"] > 0 and feats["qc_saturated_fraction"] == 0.0
