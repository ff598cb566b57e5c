"""Zernike polynomials (Noll) and the built-in masks' PSFs: astigmatism, tetrapod."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from smlmscale.errors import InputError
from smlmscale.psf import (BUILTIN_MASKS, OpticsSettings, noll_to_nm, parse_zernike,
                           psf_images, pupil_grid, zernike, zernike_mask)
from tests.psf import ellipticity


def test_noll_indices():
    expected = {1: (0, 0), 2: (1, 1), 3: (1, -1), 4: (2, 0), 5: (2, -2), 6: (2, 2),
                7: (3, -1), 8: (3, 1), 9: (3, -3), 10: (3, 3), 11: (4, 0), 12: (4, 2),
                13: (4, -2), 14: (4, 4), 15: (4, -4), 22: (6, 0), 23: (6, -2), 24: (6, 2)}
    assert {j: noll_to_nm(j) for j in expected} == expected
    with pytest.raises(InputError, match="Noll index 0"):
        noll_to_nm(0)


def test_orthonormal_on_the_unit_disc():
    n = 801
    y, x = np.mgrid[-1:1:n * 1j, -1:1:n * 1j]
    rho, theta = np.hypot(x, y), np.arctan2(y, x)
    inside = rho <= 1
    z = np.stack([zernike(j, rho, theta)[inside] for j in range(1, 25)])
    gram = z @ z.T / inside.sum()
    np.testing.assert_allclose(gram, np.eye(24), atol=0.01)


def test_astigmatism_is_cos_2theta():
    theta = np.linspace(0, 2 * np.pi, 9)
    np.testing.assert_allclose(zernike(6, np.ones(9), theta), np.sqrt(6) * np.cos(2 * theta))
    np.testing.assert_allclose(zernike(5, np.ones(9), theta), np.sqrt(6) * np.sin(2 * theta))
    assert zernike(6, np.array([1.01]), np.array([0.0]))[0] == 0  # outside the pupil


def test_parse_zernike():
    assert parse_zernike("6:1.0, 12:-0.5,6:0.5") == {6: 1.5, 12: -0.5}
    for bad in ("6", "6:x", "0:1", "a:1", ""):
        with pytest.raises(InputError):
            parse_zernike(bad)


def test_astigmatism_flips_ellipticity_through_focus(small_grid):
    """+1 rad of Z6 adds curvature along x: x comes to focus deeper than y, so the spot
    is elongated along x (e > 0) short of focus and along y (e < 0) beyond it."""
    mask = zernike_mask(small_grid, BUILTIN_MASKS["astigmatism"])
    z = np.arange(0.0, 2001.0, 100.0)
    e = np.array([ellipticity(im) for im in
                  psf_images(small_grid, z_nm=z, mask_phase=mask, size_px=41)])
    assert e[z <= 600].min() > 0.15 and e[(z >= 1200) & (z <= 2000)].max() < -0.15
    crossing = z[np.flatnonzero(np.diff(np.sign(e)))[0]]
    assert 700 <= crossing <= 1100  # near the (shifted) focus of the water sample
    # without a mask the spot stays round
    round_e = [ellipticity(im) for im in psf_images(small_grid, z_nm=z[::5], size_px=41)]
    assert np.abs(round_e).max() < 1e-6
    # the sign of the coefficient swaps the axes
    flipped = psf_images(small_grid, z_nm=[300.0, 1600.0], mask_phase=-mask, size_px=41)
    assert ellipticity(flipped[0]) < -0.2 and ellipticity(flipped[1]) > 0.2


def _two_lobes(image: np.ndarray) -> tuple[int, float, float]:
    """The number of bright maxima (over 30% of the peak), the angle of the line through
    the two brightest (degrees from +x, 0..180) and their distance (px)."""
    smooth = ndimage.gaussian_filter(image, 1.0)
    peaks = (smooth == ndimage.maximum_filter(smooth, size=5)) & (smooth > 0.3 * smooth.max())
    rows, cols = np.nonzero(peaks)
    order = np.argsort(smooth[rows, cols])[::-1][:2]
    (r1, r2), (c1, c2) = rows[order], cols[order]
    return len(rows), np.degrees(np.arctan2(r2 - r1, c2 - c1)) % 180, np.hypot(r2 - r1, c2 - c1)


def test_tetrapod_lobes_rotate_with_z():
    """Two lobes along x short of focus, closing in; along y beyond it, moving apart."""
    grid = pupil_grid(OpticsSettings())
    mask = zernike_mask(grid, BUILTIN_MASKS["tetrapod"])
    below = [_two_lobes(im) for im in
             psf_images(grid, z_nm=[0.0, 250.0, 500.0], mask_phase=mask, size_px=61)]
    above = [_two_lobes(im) for im in
             psf_images(grid, z_nm=[2000.0, 2250.0, 2500.0], mask_phase=mask, size_px=61)]
    for count, angle, distance in below:
        assert count == 2 and min(angle, 180 - angle) < 5 and distance > 10
    for count, angle, distance in above:
        assert count == 2 and abs(angle - 90) < 5 and distance > 10
    assert below[0][2] > below[1][2] > below[2][2]      # lobes approach focus ...
    assert above[0][2] < above[1][2] < above[2][2]      # ... and part beyond it
