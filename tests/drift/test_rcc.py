"""RCC kernels against naive references (scipy.signal.correlate, numpy.histogram2d, lstsq)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, signal

from smlmscale.drift import rcc


def _image(seed=0, shape=(48, 40), points=60, shift=(0.0, 0.0), sigma=1.2):
    rng = np.random.default_rng(seed)
    yx = rng.uniform(8, np.array(shape) - 8, (points, 2))
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    image = np.zeros(shape)
    for y, x in yx + np.array(shift):
        image += np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2))
    return image


def test_correlation_window_equals_scipy_correlate():
    rng = np.random.default_rng(1)
    a, b = rng.random((23, 31)), rng.random((23, 31))
    m = 6
    got = rcc.correlation_window(rcc.spectrum(a, max_shift_px=m), rcc.spectrum(b, max_shift_px=m),
                                 padded=rcc.padded_shape(a.shape, m), max_shift_px=m)
    full = signal.correlate(b, a, mode="full")   # lag k at index k + (N - 1)
    want = full[22 - m:22 + m + 1, 30 - m:30 + m + 1]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-9)


def test_correlation_smoothing_is_a_gaussian_filter_of_the_correlation():
    rng = np.random.default_rng(2)
    a, b = rng.random((30, 30)), rng.random((30, 30))
    m = 20
    spectra = [rcc.spectrum(i, max_shift_px=m) for i in (a, b)]
    padded = rcc.padded_shape(a.shape, m)
    raw = rcc.correlation_window(*spectra, padded=padded, max_shift_px=m)
    smooth = rcc.correlation_window(*spectra, padded=padded, max_shift_px=m, sigma_px=1.5)
    # away from the window's edges, equal to filtering the linear correlation
    want = ndimage.gaussian_filter(raw, 1.5, mode="constant", truncate=4)
    np.testing.assert_allclose(smooth[10:-10, 10:-10], want[10:-10, 10:-10], rtol=2e-3)


@pytest.mark.parametrize("shift", [(0.0, 0.0), (2.3, -4.7), (-7.6, 0.4)])
def test_pair_shift_recovers_a_known_subpixel_shift(shift):
    a, b = _image(shift=(0, 0)), _image(shift=shift)
    m = 10
    got = rcc.pair_shift(rcc.spectrum(a, max_shift_px=m), rcc.spectrum(b, max_shift_px=m),
                         padded=rcc.padded_shape(a.shape, m), max_shift_px=m, sigma_px=0.5)
    assert got[0] == pytest.approx(shift[0], abs=0.08)
    assert got[1] == pytest.approx(shift[1], abs=0.08)


def test_peak_offset_of_a_sampled_gaussian_is_exact():
    yy, xx = np.mgrid[-5:6, -5:6]
    window = np.exp(-((yy - 1.3) ** 2 + (xx + 0.25) ** 2) / 2.0)
    dy, dx, peak = rcc.peak_offset(window)
    assert (dy, dx) == pytest.approx((1.3, -0.25), abs=1e-9)
    assert peak == window.max()


def test_segment_histograms_equal_histogram2d():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-50, 950, 3000), rng.uniform(100, 700, 3000)
    segment = rng.integers(2, 5, 3000)
    got = rcc.segment_histograms(x, y, segment, shape=(30, 45), origin_nm=(100.0, 0.0),
                                 pixel_nm=20.0)
    assert sorted(got) == [2, 3, 4]
    for s, image in got.items():
        want = np.histogram2d(y[segment == s], x[segment == s], bins=(30, 45),
                              range=((100, 700), (0, 900)))[0]
        np.testing.assert_array_equal(image, want)


def test_solve_drift_exact_and_rejects_an_outlier_pair():
    truth = np.array([[0, 0], [5, -2], [9, 1], [12, 6], [14, 3]], float)
    pairs = np.array([(i, j) for i in range(5) for j in range(i + 1, 5)])
    shifts = truth[pairs[:, 1]] - truth[pairs[:, 0]]
    drift, kept = rcc.solve_drift(pairs, shifts, n_segments=5, max_residual_nm=1.0)
    np.testing.assert_allclose(drift, truth, atol=1e-9)
    assert kept.all()
    bad = shifts.copy()
    bad[3] += [40.0, -30.0]
    naive = np.linalg.lstsq(rcc._design(pairs, 5), bad, rcond=None)[0]
    assert np.abs(naive - truth[1:]).max() > 5       # the outlier spoils plain least squares
    drift, kept = rcc.solve_drift(pairs, bad, n_segments=5, max_residual_nm=1.0)
    np.testing.assert_allclose(drift, truth, atol=1e-9)
    assert kept.sum() == len(pairs) - 1 and not kept[3]


def test_solve_drift_keeps_every_segment_connected():
    pairs = np.array([(0, 1), (1, 2)])
    shifts = np.array([[1.0, 0.0], [100.0, 0.0]])
    drift, kept = rcc.solve_drift(pairs, shifts, n_segments=3, max_residual_nm=0.1)
    assert kept.all()
    np.testing.assert_allclose(drift[:, 0], [0, 1, 101])


def test_drift_at_interpolates_the_knots_and_segment_of():
    centres = np.array([49.5, 149.5, 249.5, 349.5])
    knots = np.stack([np.sin(centres / 100), centres / 10], axis=1)
    got = rcc.drift_at(centres, centres, knots)
    np.testing.assert_allclose(got, knots)
    line = rcc.drift_at(np.array([0, 400.0]), centres, knots)[:, 1]
    np.testing.assert_allclose(line, [0, 40], atol=1e-9)      # linear data stays linear
    np.testing.assert_array_equal(rcc.segment_of(np.array([0, 99, 100, 399, 450]),
                                                 segment_frames=100, n_segments=4),
                                  [0, 0, 1, 3, 3])
