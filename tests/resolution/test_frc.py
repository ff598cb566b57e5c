"""FRC kernel against hand references: identical halves, independent noise, known sigma."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.render.image import histogram
from smlmscale.resolution.frc import THRESHOLD, crossing, frc_curve


def test_identical_halves_correlate_fully():
    image = np.random.default_rng(0).poisson(2.0, (64, 80)).astype(float)
    freq, frc = frc_curve(image, image, pixel_nm=5.0, smooth_rings=1)
    np.testing.assert_allclose(frc, 1.0)
    assert freq.size == 40 and freq[0] == pytest.approx(1 / (80 * 5.0))
    assert freq[-1] == pytest.approx(0.5 / 5.0)
    assert crossing(freq, frc) is None


def test_independent_noise_does_not_correlate():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 128, 128))
    freq, frc = frc_curve(a, b, pixel_nm=5.0)
    assert np.abs(frc[5:]).mean() < 0.05 and np.abs(frc).max() < 0.3


def test_smoothing_and_crossing_by_hand():
    freq = np.arange(1, 6) / 10.0
    assert crossing(freq, np.array([1.0, 0.5, 0.2, 0.1, 0.0]), threshold=0.3) == \
        pytest.approx(0.2 + (0.5 - 0.3) / 0.3 * 0.1)
    assert crossing(freq, np.array([0.1, 0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.1)
    rng = np.random.default_rng(2)
    a = rng.poisson(1.0, (32, 32)).astype(float)
    _, raw = frc_curve(a, a[::-1], pixel_nm=1.0, smooth_rings=1)
    _, smooth = frc_curve(a, a[::-1], pixel_nm=1.0, smooth_rings=3)
    np.testing.assert_allclose(smooth[1:-1], (raw[:-2] + raw[1:-1] + raw[2:]) / 3)


def _halves(sigma_nm, n=20000, size_nm=2000.0, pixel_nm=5.0, seed=3):
    rng = np.random.default_rng(seed)
    # a structure: points on random lines, each emitter localized once in each half
    t = rng.uniform(0, 1, n)
    k = rng.integers(0, 12, n)
    angle = rng.uniform(0, np.pi, 12)[k]
    x0, y0 = rng.uniform(0.2, 0.8, (2, 12)) * size_nm
    x = x0[k] + (t - 0.5) * size_nm * 0.6 * np.cos(angle)
    y = y0[k] + (t - 0.5) * size_nm * 0.6 * np.sin(angle)
    shape = (int(size_nm / pixel_nm),) * 2
    return [histogram(x + rng.normal(0, sigma_nm, n), y + rng.normal(0, sigma_nm, n),
                      shape=shape, pixel_nm=pixel_nm) for _ in range(2)]


def test_resolution_grows_with_localization_precision():
    resolutions = []
    for sigma in (5.0, 10.0, 20.0):
        freq, frc = frc_curve(*_halves(sigma), pixel_nm=5.0)
        resolutions.append(1 / crossing(freq, frc, threshold=THRESHOLD))
    assert resolutions[0] < resolutions[1] < resolutions[2]
    # FRC resolution of Gaussian-blurred points is a few sigma (about 2-5 sigma here)
    for sigma, res in zip((5.0, 10.0, 20.0), resolutions):
        assert 1.5 * sigma < res < 6 * sigma, (sigma, res)
