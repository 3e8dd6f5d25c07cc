"""Steps against scikit-image / SciPy reference implementations of the same operation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from skimage import filters, measure, morphology, segmentation

from pipelines import steps
from pipelines.steps.threshold import histogram
from pipelines.synthetic import make_field, make_touching_pair

DTYPES = [np.uint8, np.uint16, np.float32]
SHAPES = [(64, 64), (97, 130)]


def _image(dtype, shape, seed=0):
    return make_field(shape, spacing=24, dtype=dtype, seed=seed).image


@pytest.mark.parametrize("dtype", [*DTYPES, np.float64, np.int16])
@pytest.mark.parametrize("seed", range(4))
def test_otsu_equals_skimage(dtype, seed) -> None:
    img = _image(dtype, (80, 90), seed)
    if dtype == np.float32:
        img = img * np.float32(1e-3)
    assert steps.otsu_threshold(img) == filters.threshold_otsu(img)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_histogram_equals_numpy(dtype) -> None:
    img = np.random.default_rng(3).gamma(2.0, 7.0, size=(50, 70)).astype(dtype)
    counts, centers = histogram(img, nbins=256)
    ref, edges = np.histogram(img, bins=256)
    np.testing.assert_array_equal(counts, ref)
    np.testing.assert_array_equal(centers, (edges[:-1] + edges[1:]) / 2)


def test_otsu_constant_image() -> None:
    img = np.full((8, 8), 7, dtype=np.uint16)
    assert steps.otsu_threshold(img) == 7
    assert not steps.threshold_otsu(img).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_gaussian_equals_skimage(dtype, shape) -> None:
    img = _image(dtype, shape)
    ours = steps.gaussian_smooth(img, sigma=1.5)
    ref = filters.gaussian(img.astype(np.float64), sigma=1.5, preserve_range=True)
    assert ours.dtype == np.float32 and ours.shape == shape
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-3 * float(img.max()) * 1e-3)


@pytest.mark.parametrize("shape", SHAPES)
def test_background_gaussian_exact(shape) -> None:
    img = _image(np.uint16, shape)
    ours = steps.subtract_background(img, method="gaussian", radius=20.0)
    ref = img.astype(np.float32) - ndi.gaussian_filter(img.astype(np.float32), 20.0,
                                                       mode="reflect")
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize(("shape", "bound"), [((256, 256), 2.0), ((250, 270), 30.0)])
def test_background_downsampled_close_to_exact(shape, bound) -> None:
    img = make_field(shape, dtype=np.uint16, seed=1).image
    exact = steps.subtract_background(img, radius=50.0)
    fast = steps.subtract_background(img, radius=50.0, downsample=8)
    # below the noise (sigma 30); ragged edges (shape not a multiple of 8) differ most
    assert np.abs(fast - exact).max() < bound


def test_background_tophat_equals_scipy() -> None:
    img = _image(np.uint16, (70, 90)).astype(np.float32)
    ours = steps.subtract_background(img, method="tophat", radius=6.0)
    ref = ndi.white_tophat(img, size=(13, 13), mode="reflect")
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-3)


def test_max_projection_and_flat_field() -> None:
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 1000, size=(3, 20, 30)).astype(np.uint16)
    np.testing.assert_array_equal(steps.max_projection(stack), stack.max(axis=0))
    assert steps.max_projection(stack[:1]).base is not None
    flat = rng.uniform(0.5, 1.5, size=(20, 30)).astype(np.float32)
    dark = np.full((20, 30), 10, np.uint16)
    out = steps.flat_field_correct(stack[0], flat, dark=dark)
    ref = (stack[0].astype(np.float32) - 10) / (flat / flat.mean())
    np.testing.assert_allclose(out, ref, rtol=1e-5)


@pytest.mark.parametrize("connectivity", [1, 2])
@pytest.mark.parametrize("shape", SHAPES)
def test_label_matches_skimage(connectivity, shape, same_objects) -> None:
    mask = np.random.default_rng(1).random(shape) > 0.6
    ours, n = steps.label(mask, connectivity=connectivity)
    ref = measure.label(mask, connectivity=connectivity)
    assert n == ref.max() and ours.dtype == np.int32
    assert same_objects(ours, ref)


@pytest.mark.parametrize("min_size", [0, 3, 8])
def test_remove_small_objects_matches_skimage(min_size, same_objects) -> None:
    mask = np.random.default_rng(2).random((60, 70)) > 0.6
    lab, n = steps.label(mask)
    ours = steps.remove_small_objects(lab, min_size=min_size, n_labels=n)
    ref = morphology.remove_small_objects(lab, max_size=max(min_size - 1, 0))
    if min_size == 0:
        ref = lab
    assert same_objects(ours, ref)
    assert ours.max() == len(np.unique(ours)) - 1  # sequential


@pytest.mark.parametrize("dtype", DTYPES)
def test_measurements_match_regionprops(dtype) -> None:
    img = _image(dtype, (96, 128))
    lab, n = steps.label(steps.threshold_otsu(steps.gaussian_smooth(img)))
    table = steps.measure_objects(lab, {"": img, "two": img.astype(np.float32) * 2}, n_labels=n)
    ref = measure.regionprops_table(lab, img.astype(np.float64),
                                    properties=("label", "area", "centroid", "intensity_mean"))
    np.testing.assert_array_equal(table["label"], ref["label"])
    np.testing.assert_allclose(table["area"], ref["area"])
    np.testing.assert_allclose(table["centroid_y"], ref["centroid-0"], rtol=1e-10)
    np.testing.assert_allclose(table["centroid_x"], ref["centroid-1"], rtol=1e-10)
    np.testing.assert_allclose(table["mean_intensity"], ref["intensity_mean"], rtol=1e-6)
    np.testing.assert_allclose(table["mean_intensity_two"], 2 * ref["intensity_mean"],
                               rtol=1e-6)
    sums = ndi.sum_labels(img.astype(np.float64), lab, index=ref["label"])
    np.testing.assert_allclose(table["integrated_intensity"], sums, rtol=1e-6)
    feats = steps.aggregate_field(table)
    assert feats["count"] == n
    np.testing.assert_allclose(feats["mean_area"], ref["area"].mean())
    np.testing.assert_allclose(feats["integrated_intensity"], sums.mean(), rtol=1e-6)


def test_aggregate_empty_field() -> None:
    lab = np.zeros((10, 10), np.int32)
    feats = steps.aggregate_field(steps.measure_objects(lab, {"": lab}, n_labels=0))
    assert {k: float(v) for k, v in feats.items()} == dict.fromkeys(feats, 0.0)


def test_expand_and_ring_match_skimage() -> None:
    lab, _ = steps.label(_image(np.uint16, (80, 80)) > 1500)
    np.testing.assert_array_equal(steps.expand_labels(lab, distance=3),
                                  segmentation.expand_labels(lab, distance=3))
    ring = steps.ring_labels(lab, width=3, gap=1)
    outer = segmentation.expand_labels(lab, distance=4)
    inner = segmentation.expand_labels(lab, distance=1)
    np.testing.assert_array_equal(ring, np.where(inner == 0, outer, 0))


def _iou_match(ours: np.ndarray, ref: np.ndarray) -> float:
    worst = 1.0
    for k in range(1, ref.max() + 1):
        obj = ref == k
        hit = np.bincount(ours[obj]).argmax()
        inter = np.count_nonzero(obj & (ours == hit))
        union = np.count_nonzero(obj | (ours == hit))
        worst = min(worst, inter / union)
    return worst


@pytest.mark.parametrize("overlap", [0.2, 0.4])
def test_watershed_splits_touching_pair(overlap) -> None:
    from skimage.feature import peak_local_max

    mask = make_touching_pair(radius=12.0, overlap=overlap)
    lab, n = steps.label(mask)
    assert n == 1
    ours, _ = steps.watershed_split(lab, min_distance=5, n_labels=n)
    dist = ndi.distance_transform_edt(mask)
    peaks = peak_local_max(dist, min_distance=5, labels=lab, exclude_border=False)
    markers = np.zeros_like(lab)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    ref = segmentation.watershed(-dist, markers, mask=mask)
    assert ours.max() == ref.max() == 2
    # level-synchronous flooding: the split line may sit 1-2 px off skimage's
    assert _iou_match(ours, ref) > 0.85


def test_watershed_keeps_separate_objects(same_objects) -> None:
    lab, n = steps.label(_image(np.uint16, (96, 96)) > 1500)
    ours, _ = steps.watershed_split(lab, min_distance=4, n_labels=n)
    assert same_objects(ours, lab)


def test_field_qc_matches_scipy() -> None:
    img = _image(np.uint16, (64, 64))
    img[0, :8] = 65535
    qc = steps.field_qc(img)
    ref = ndi.laplace(img.astype(np.float32), mode="reflect").astype(np.float64).var()
    np.testing.assert_allclose(qc["qc_focus"], ref, rtol=1e-5)
    assert qc["qc_saturated_fraction"] == 8 / img.size
    blurred = steps.field_qc(ndi.gaussian_filter(img, 2))
    assert blurred["qc_focus"] < qc["qc_focus"]


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda im: steps.gaussian_smooth(im, sigma=-1), "sigma.*-1"),
        (lambda im: steps.subtract_background(im, method="median"), "method.*median"),
        (lambda im: steps.subtract_background(im, radius=0), "radius.*0"),
        (lambda im: steps.subtract_background(im, downsample=0), "downsample.*0"),
        (lambda im: steps.threshold_otsu(im, nbins=1), "nbins.*1"),
        (lambda im: steps.label(im > 0, connectivity=3), "connectivity.*3"),
        (lambda im: steps.remove_small_objects(im.astype(np.int32), min_size=-2), "-2"),
        (lambda im: steps.ring_labels(im.astype(np.int32), width=0), "width.*0"),
        (lambda im: steps.max_projection(im[None, None]), "shape"),
    ],
)
def test_steps_reject_bad_values(call, pattern) -> None:
    with pytest.raises(ValueError, match=pattern):
        call(np.ones((8, 8), np.uint16))
