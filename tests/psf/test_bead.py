"""The empirical PSF of a bead z-stack: a known simulated bead, shifted and noisy, is
recovered; stacks without a bead are refused."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.psf import bead_psf, interpolate_z, psf_images, shift_blur, zernike_mask

Z_NM = np.arange(0.0, 2001.0, 100.0)
BEAD_PX = (28, 33)  # row, col of the bead's pixel in the 61 x 61 stack
PHOTONS, BACKGROUND = 2e5, 100.0


def simulated_stack(grid, seed=1, photons=PHOTONS):
    """A 61 x 61 px astigmatic bead stack with a drifting bead: the stack, the drift
    ``(z, 2)`` (row, col, px) and the clean, centred 41 x 41 px PSF."""
    rng = np.random.default_rng(seed)
    mask = zernike_mask(grid, {6: 1.0})
    drift = np.cumsum(rng.normal(0, 0.15, (len(Z_NM), 2)), axis=0) + [0.3, -0.2]
    c = grid.centre
    images = psf_images(grid, dx_px=drift[:, 1], dy_px=drift[:, 0], z_nm=Z_NM,
                        mask_phase=mask)
    rows = slice(c - BEAD_PX[0], c - BEAD_PX[0] + 61)
    cols = slice(c - BEAD_PX[1], c - BEAD_PX[1] + 61)
    stack = rng.poisson(photons * images[:, rows, cols] + BACKGROUND).astype(np.uint16)
    clean = psf_images(grid, z_nm=Z_NM, mask_phase=mask, size_px=41)
    return stack, drift, clean / clean.sum(axis=(1, 2), keepdims=True)


def _errors(got, truth):
    return np.linalg.norm(got - truth, axis=(1, 2)) / np.linalg.norm(truth, axis=(1, 2))


def test_recovers_a_shifted_noisy_bead(small_grid):
    stack, drift, truth = simulated_stack(small_grid)
    found = bead_psf(stack, size_px=41)
    assert found.centre_px == BEAD_PX and found.snr > 100
    assert found.background == pytest.approx(np.full(len(Z_NM), BACKGROUND), abs=15)
    # the registration measured the drift to a tenth of a pixel
    assert np.abs(found.centroids_px - BEAD_PX - drift).max() < 0.12
    assert found.images.shape == (len(Z_NM), 41, 41)
    np.testing.assert_allclose(found.images.sum(axis=(1, 2)), 1.0)
    assert found.images.min() >= 0
    errors = _errors(found.images, truth)
    assert np.median(errors) < 0.06 and errors.max() < 0.2
    # without registration the drift would blur it: the aligned PSF is closer to the truth
    unregistered = stack[:, BEAD_PX[0] - 20:BEAD_PX[0] + 21, BEAD_PX[1] - 20:BEAD_PX[1] + 21]
    unregistered = unregistered - found.background[:, None, None]
    unregistered /= unregistered.sum(axis=(1, 2), keepdims=True)
    assert np.median(_errors(unregistered, truth)) > 2 * np.median(errors)


def test_interpolation_in_z_between_slices(small_grid):
    """Every other slice of the stack predicts the ones left out."""
    stack, _, truth = simulated_stack(small_grid, photons=1e6)
    found = bead_psf(stack[::2], size_px=41)
    between = interpolate_z(found.images, Z_NM[::2], Z_NM[1::2])
    np.testing.assert_allclose(between.sum(axis=(1, 2)), 1.0)
    assert np.median(_errors(between, truth[1::2])) < 0.1
    on_slices = interpolate_z(found.images, Z_NM[::2], Z_NM[::2])
    np.testing.assert_allclose(on_slices, found.images, atol=1e-12)
    with pytest.raises(InputError, match="outside the bead stack's 0..2000 nm"):
        interpolate_z(found.images, Z_NM[::2], np.array([0.0, 2100.0]))


def test_a_stack_of_noise_is_refused():
    rng = np.random.default_rng(0)
    noise = rng.poisson(100.0, (20, 48, 48)).astype(np.uint16)
    with pytest.raises(InputError, match="no bead found") as err:
        bead_psf(noise)
    assert "--min-snr" in err.value.render("--min-snr")


def test_a_faint_bead_passes_a_lower_threshold(small_grid):
    stack, _, _ = simulated_stack(small_grid, photons=2e3)
    with pytest.raises(InputError, match="no bead found"):
        bead_psf(stack, size_px=41, min_snr=1000)
    assert bead_psf(stack, size_px=41).centre_px == BEAD_PX


def test_bead_near_the_edge_and_bad_stacks(small_grid):
    stack, _, _ = simulated_stack(small_grid)
    with pytest.raises(InputError, match="too near the edge for a 61 px window"):
        bead_psf(stack, size_px=61)
    with pytest.raises(InputError, match="must be an odd number"):
        bead_psf(stack, size_px=40)
    assert bead_psf(stack).images.shape[1:] == (55, 55)  # the largest window that fits
    with pytest.raises(InputError, match="2 slices or more"):
        bead_psf(stack[:1])
    with pytest.raises(InputError, match="2 slices or more"):
        bead_psf(stack[0])


def test_shift_blur_shifts_and_blurs():
    image = np.zeros((1, 31, 31))
    image[0, 15, 15] = 1.0
    out = shift_blur(image, 0.5, -0.25, 1.5)[0]
    rows, cols = np.indices(out.shape)
    assert out.sum() == pytest.approx(1.0)
    assert (out * rows).sum() == pytest.approx(15.5) and (out * cols).sum() == pytest.approx(14.75)
    # the shift moves the mean only; the blur adds its variance
    assert (out * (rows - 15.5) ** 2).sum() == pytest.approx(1.5 ** 2, rel=1e-4)
    assert (out * (cols - 14.75) ** 2).sum() == pytest.approx(1.5 ** 2, rel=1e-4)
