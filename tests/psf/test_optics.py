"""The optical system and its pupil grid: the seed's 4f geometry, refused optics."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.psf import OpticsSettings, grid_size, pupil_grid


def test_the_seeds_geometry():
    """0.67 um * 1e5 um / (11 um * 30 um) = 203 samples; the aperture 2 * 48.3 SLM px."""
    optics = OpticsSettings()
    assert optics.camera_pixel_um == pytest.approx(11.0)
    assert grid_size(optics) == 203
    # back-focal-plane radius f_4f NA / M in SLM pixels: 1e5 * 1.45 / 100 / 30
    assert optics.pupil_radius_px == pytest.approx(1e5 * 1.45 / 100 / 30, rel=2e-4)
    assert optics.pupil_diameter_px == 97


def test_grid_constants():
    grid = pupil_grid(OpticsSettings(slm_pixel_um=60.0))
    assert grid.n == 101 and grid.centre == 50 and grid.n % 2 == 1
    assert grid.kx[50, 50] == 0 and grid.rho[50, 50] == 0
    inside = grid.amplitude > 0
    assert np.all(grid.rho[inside] <= 1) and np.all(grid.rho[~inside] > 1)
    # the disc's area in samples matches pi R^2
    assert inside.sum() == pytest.approx(np.pi * grid.optics.pupil_radius_px ** 2, rel=0.02)
    # the aperture's samples, in both layouts
    assert grid.aperture.size == inside.sum()
    np.testing.assert_array_equal(grid.aperture, np.flatnonzero(inside))
    shifted = np.fft.ifftshift(grid.amplitude).ravel()
    assert np.all(shifted[grid.aperture_fft] == 1) and shifted.sum() == inside.sum()
    np.testing.assert_array_equal(grid.kx_ap, grid.kx.ravel()[grid.aperture])
    # supercritical light (NA sin > n_sample) is evanescent in water, not in oil
    rho_n = grid.rho.ravel()[grid.aperture] * 1.45
    assert np.all(grid.kz_sample_im_ap[rho_n > 1.33] > 0)
    assert np.all(grid.kz_sample_im_ap[rho_n < 1.33] == 0)
    assert np.all(grid.kz_immersion_ap > 0)


def test_theta_runs_from_x_towards_y():
    grid = pupil_grid(OpticsSettings(slm_pixel_um=60.0))
    c = grid.centre
    assert grid.theta[c, c + 10] == pytest.approx(0.0)
    assert grid.theta[c + 10, c] == pytest.approx(np.pi / 2)


@pytest.mark.parametrize("changes, fragment", [
    ({"na": 1.6}, "--na 1.6 must be below the immersion index"),
    ({"pixel_size_nm": 300}, "undersamples the PSF"),
    ({"slm_pixel_um": 1000}, "samples across, too few"),
    ({"slm_pixel_um": 1}, "at most 2049"),
    ({"wavelength_nm": -1}, "--wavelength must be a positive number"),
])
def test_refused_optics(changes, fragment):
    with pytest.raises(InputError, match=None) as err:
        OpticsSettings(**changes)
    assert fragment in str(err.value)
