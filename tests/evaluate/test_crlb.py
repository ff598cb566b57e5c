"""Mortensen et al. 2010 Eq. 6 against values worked out by hand; Eq. 5 against its integral."""

import math

import numpy as np
import pytest

from smlmscale.evaluate.crlb import mle_localization_variance_nm2
from smlmscale.evaluate import EMCCD_NOISE_FACTOR, localization_precision_nm, \
    localization_variance_nm2

# (photons, sigma nm, background photons/px, pixel nm) -> precision nm, computed by hand:
# sigma_a^2 = sigma^2 + a^2/12; var = sigma_a^2/N * (16/9 + 8 pi sigma_a^2 b / (N a^2)).
CASES = [
    # b = 0: sqrt(16/9 * (100^2 + 100^2/12) / 1000) = sqrt(16/9 * 10833.33 / 1000)
    (1000.0, 100.0, 0.0, 100.0, 4.388537257362556),
    # sigma_a^2 = 15354.083; 16/9 + 0.674102 = 2.451880; 30.708167 * 2.451880 = 75.2928
    (500.0, 120.0, 10.0, 107.0, 8.677140104833336),
    # sigma_a^2 = 24633.333; 16/9 + 6.045930 = 7.823708; 123.166667 * 7.823708 = 963.620
    (200.0, 150.0, 50.0, 160.0, 31.04222865988598),
]


@pytest.mark.parametrize("photons, sigma, background, pixel, expected", CASES)
def test_hand_computed_values(photons, sigma, background, pixel, expected):
    got = localization_precision_nm(photons, psf_sigma_nm=sigma, background_photons=background,
                                    pixel_size_nm=pixel)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_no_background_reduces_to_16_9_sigma_a2_over_n():
    sigma_a2 = 130.0**2 + 100.0**2 / 12
    got = localization_variance_nm2(1000, psf_sigma_nm=130, background_photons=0,
                                    pixel_size_nm=100)
    assert float(got) == pytest.approx(16 / 9 * sigma_a2 / 1000, rel=1e-12)


def test_emccd_costs_a_factor_sqrt2_and_arrays_broadcast():
    photons = np.array([200.0, 500.0, 5000.0])
    ideal = localization_precision_nm(photons, psf_sigma_nm=120, background_photons=np.array(
        [5.0, 10.0, 20.0]), pixel_size_nm=107)
    emccd = localization_precision_nm(photons, psf_sigma_nm=120, background_photons=np.array(
        [5.0, 10.0, 20.0]), pixel_size_nm=107, noise_factor=EMCCD_NOISE_FACTOR)
    assert ideal.shape == (3,) and np.all(np.diff(ideal) < 0)  # more photons, better
    np.testing.assert_allclose(emccd / ideal, math.sqrt(2), rtol=1e-12)
    assert float(ideal[1]) == pytest.approx(CASES[1][-1], rel=1e-6)


def test_zero_photons_is_not_finite():
    got = localization_variance_nm2(np.array([0.0, 100.0]), psf_sigma_nm=100,
                                    background_photons=1, pixel_size_nm=100)
    assert not np.isfinite(got[0]) and np.isfinite(got[1])


@pytest.mark.parametrize("photons, background", [(2750, 20), (1000, 0.01), (500, 100), (4000, 1)])
def test_mle_bound_matches_the_integral_of_eq5(photons, background):
    from scipy.integrate import quad

    sigma_a2 = 130.0**2 + 100.0**2 / 12
    tau = 2 * np.pi * sigma_a2 * background / (photons * 100.0**2)
    integral = quad(lambda t: np.log(t) / (1 + t / tau), 0, 1, limit=200)[0]
    expected = sigma_a2 / photons / (1 + integral)
    got = mle_localization_variance_nm2(photons, psf_sigma_nm=130, background_photons=background,
                                        pixel_size_nm=100)
    assert got == pytest.approx(expected, rel=1e-4)
    lsq = localization_variance_nm2(photons, psf_sigma_nm=130, background_photons=background,
                                    pixel_size_nm=100)
    assert sigma_a2 / photons < got < lsq       # between the no-background limit and Eq. 6


def test_mle_bound_without_background_is_9_16_of_least_squares():
    kwargs = dict(psf_sigma_nm=np.array([100.0, 150.0]), background_photons=0, pixel_size_nm=107)
    ratio = (mle_localization_variance_nm2(800, **kwargs)
             / localization_variance_nm2(800, **kwargs))
    np.testing.assert_allclose(ratio, 9 / 16)
    assert mle_localization_variance_nm2(800, noise_factor=2, **kwargs) == pytest.approx(
        2 * mle_localization_variance_nm2(800, **kwargs))
