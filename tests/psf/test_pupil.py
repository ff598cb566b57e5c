"""The pupil kernels' physics: Airy focus, energy, defocus symmetry, index mismatch,
sub-pixel position and blur."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit
from scipy.special import j1

from smlmscale.errors import InputError
from smlmscale.psf import OpticsSettings, psf_images, pupil_grid
from tests.psf import moments


@pytest.fixture(scope="module")
def fine_grid():
    """No mismatch, in focus at z = 0, 40 nm pixels (279 samples): a well-sampled Airy."""
    return pupil_grid(OpticsSettings(n_sample=1.518, focus_nm=0.0, pixel_size_nm=40.0,
                                     slm_pixel_um=60.0))


def test_in_focus_clear_pupil_is_the_airy_pattern(fine_grid):
    """(2 J1(v) / v)^2 with v = 2 pi NA r / wavelength, to 0.2% of the peak."""
    image = psf_images(fine_grid, z_nm=0.0)[0]
    c = fine_grid.centre
    r_nm = np.arange(1, 15) * 40.0
    v = 2 * np.pi * 1.45 * r_nm / 670.0
    airy = (2 * j1(v) / v) ** 2
    assert np.abs(image[c, c + 1:c + 15] / image[c, c] - airy).max() < 2e-3
    assert np.abs(image[c + 1:c + 15, c] / image[c, c] - airy).max() < 2e-3
    # first dark ring at 0.61 wavelength / NA = 282 nm: the profile's minimum within 1 px
    assert abs(np.argmin(image[c, c:c + 12]) * 40.0 - 0.61 * 670 / 1.45) <= 40.0


def test_in_focus_gaussian_width_is_0_21_wavelength_over_na(fine_grid):
    """Zhang et al. 2007: the best Gaussian of the Airy core has sigma ~ 0.21 lambda / NA
    (97 nm here); fitted over +-240 nm it is 95 nm."""
    image = psf_images(fine_grid, z_nm=0.0)[0]
    c, h = fine_grid.centre, 6
    y, x = np.mgrid[-h:h + 1, -h:h + 1]
    window = image[c - h:c + h + 1, c - h:c + h + 1]

    def gauss(xy, a, s):
        return a * np.exp(-(xy[0] ** 2 + xy[1] ** 2) / (2 * s ** 2))

    (_, sigma_px), _ = curve_fit(gauss, (x.ravel(), y.ravel()), window.ravel(),
                                 p0=(window.max(), 2.0))
    assert abs(sigma_px) * 40.0 == pytest.approx(0.21 * 670 / 1.45, rel=0.03)


def test_energy_is_one_over_the_field_and_kept_by_blur_and_position(small_grid):
    z = np.array([0.0, 800.0, 1500.0, 3000.0])
    full = psf_images(small_grid, z_nm=z, dx_px=[0.0, 0.3, -0.4, 0.2],
                      dy_px=[0.1, -0.2, 0.5, 0.0])
    np.testing.assert_allclose(full.sum(axis=(1, 2)), 1.0, rtol=1e-12)
    assert full.min() >= 0
    blurred = psf_images(small_grid, z_nm=z, blur_sigma_px=[0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(blurred.sum(axis=(1, 2)), 1.0, rtol=1e-12)
    centred = psf_images(small_grid, z_nm=z)
    crop = psf_images(small_grid, z_nm=z, size_px=(21, 31))
    c = small_grid.centre
    np.testing.assert_array_equal(crop, centred[:, c - 10:c + 11, c - 15:c + 16])
    assert np.all(crop.sum(axis=(1, 2)) < 1)


def test_defocus_is_symmetric_without_index_mismatch(matched_grid):
    for dz in (200.0, 500.0, 1000.0):
        above, below = psf_images(matched_grid, z_nm=[dz, -dz], size_px=41)
        np.testing.assert_allclose(above, below, atol=1e-12 * above.max())
        focus = psf_images(matched_grid, z_nm=0.0, size_px=41)[0]
        assert above.max() < 0.8 * focus.max()  # and it is defocused


def test_index_mismatch_breaks_the_symmetry_and_shifts_the_focus(small_grid):
    """Water under oil: an emitter is sharpest short of the nominal focal plane (focal
    shift ~ n_sample / n_immersion = 0.88 paraxially, less at NA 1.45)."""
    z = np.arange(0.0, 3001.0, 50.0)
    peaks = psf_images(small_grid, z_nm=z, size_px=21).max(axis=(1, 2))
    best = z[np.argmax(peaks)]
    assert 0.6 * 1500 < best < 0.9 * 1500
    above, below = psf_images(small_grid, z_nm=[best + 600, best - 600], size_px=41)
    assert np.abs(above - below).max() > 0.05 * max(above.max(), below.max())


def test_phase_ramp_moves_the_spot_by_sub_pixels():
    """At 110 nm pixels (< wavelength / 4 NA = 115 nm) the intensity is band-limited on
    the grid, so the spot at (dx, dy) equals the centred spot Fourier-shifted by (dx, dy)."""
    from smlmscale.psf import shift_blur

    grid = pupil_grid(OpticsSettings(slm_pixel_um=60.0, pixel_size_nm=110.0))
    dx, dy = np.array([0.25, -0.4, 0.5, 3.7]), np.array([-0.3, 0.1, 0.45, -2.2])
    moved = psf_images(grid, dx_px=dx, dy_px=dy, z_nm=900.0)
    centred = psf_images(grid, z_nm=np.full(4, 900.0))
    np.testing.assert_allclose(moved, shift_blur(centred, dy, dx), atol=1e-9 * moved.max())
    x, y, *_ = moments(psf_images(grid, dx_px=0.3, dy_px=-0.2, z_nm=900.0, size_px=41)[0])
    assert (x - 20, y - 20) == (pytest.approx(0.3, abs=0.05), pytest.approx(-0.2, abs=0.05))


def test_blur_adds_its_variance(matched_grid):
    sharp, blurred = psf_images(matched_grid, z_nm=[0.0, 0.0], blur_sigma_px=[0.0, 1.0])
    _, _, xx0, yy0, _ = moments(sharp)
    _, _, xx1, yy1, _ = moments(blurred)
    assert xx1 - xx0 == pytest.approx(1.0, rel=0.02)
    assert yy1 - yy0 == pytest.approx(1.0, rel=0.02)


def test_window_larger_than_the_grid_is_refused(small_grid):
    with pytest.raises(InputError, match="does not fit the pupil grid's 101x101"):
        psf_images(small_grid, size_px=121)
