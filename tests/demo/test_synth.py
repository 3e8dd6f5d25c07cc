from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from platequeue.demo import (
    field_rng,
    make_field,
    max_nuclei,
    otsu_threshold,
    place_nuclei,
    reference_count,
)

skimage = pytest.importorskip("skimage")
from skimage.filters import threshold_otsu  # noqa: E402
from skimage.measure import label  # noqa: E402


def _skimage_count(dapi: np.ndarray) -> int:
    img = dapi.astype(np.float32)
    img = img - ndimage.grey_opening(img, size=(31, 31))
    smooth = ndimage.gaussian_filter(img, 1.5)
    lab = label(smooth > threshold_otsu(smooth))
    sizes = np.bincount(lab.ravel())[1:]
    return int(np.count_nonzero(sizes >= 20))


def test_deterministic() -> None:
    a = make_field(field_rng(3, 0, 5, 1), 12)
    b = make_field(field_rng(3, 0, 5, 1), 12)
    c = make_field(field_rng(4, 0, 5, 1), 12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_placement_constraints() -> None:
    nuclei = place_nuclei(field_rng(0, 1), 25, size_y=256, size_x=256)
    assert len(nuclei) == 25
    for i, n in enumerate(nuclei):
        assert 5 <= n.radius <= 9
        assert n.radius < n.y < 255 - n.radius and n.radius < n.x < 255 - n.radius
        for m in nuclei[i + 1 :]:
            assert np.hypot(n.y - m.y, n.x - m.x) >= 2.5 * 9
    with pytest.raises(ValueError, match="cannot place"):
        place_nuclei(field_rng(0, 1), 200, size_y=128, size_x=128)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.uint8])
def test_field_shape_dtype(dtype: type) -> None:
    f = make_field(field_rng(0, 2), 5, size_y=128, size_x=160, dtype=dtype)
    assert f.shape == (2, 128, 160)
    assert f.dtype == np.dtype(dtype)


def test_signal_levels() -> None:
    f = make_field(field_rng(0, 9), 10).astype(np.float32)
    bg = np.median(f[0])
    assert 250 < bg < 650
    assert 1800 < f[0].max() < 4600


def test_otsu_matches_skimage() -> None:
    img = make_field(field_rng(1, 1), 9)[0].astype(np.float32)
    assert otsu_threshold(img) == pytest.approx(threshold_otsu(img), rel=1e-5)


def test_counts_recovered_by_standard_pipeline() -> None:
    for k in range(60):
        rng = field_rng(11, 0, k)
        count = int(rng.integers(1, 26))
        dapi = make_field(rng, count)[0]
        assert _skimage_count(dapi) == count
        assert reference_count(dapi) == count


@pytest.mark.parametrize("size", [27, 64, 95, 96, 128, 200, 256])
def test_max_nuclei_always_fit(size: int) -> None:
    fit = max_nuclei(size, size)
    assert fit >= 1
    for k in range(20):
        rng = field_rng(5, size, k)
        assert len(place_nuclei(rng, fit, size_y=size, size_x=size)) == fit


def test_max_nuclei_of_fields_too_small_for_one() -> None:
    assert max_nuclei(26, 26) == 0 and max_nuclei(26, 256) == 0
    assert max_nuclei(256, 256) >= 25  # the demo's default range is never capped at 256 px
    with pytest.raises(ValueError, match="too small"):
        place_nuclei(field_rng(0), 1, size_y=26, size_x=256)
