"""The pupil kernels in TensorFlow: the same PSFs as NumPy, and differentiable."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.psf import backend, psf_images, zernike_mask
from tests.helpers import requires_keras

EMITTERS = dict(dx_px=[0.0, 0.31, -0.27], dy_px=[0.0, -0.12, 0.44],
                z_nm=[250.0, 1300.0, 2600.0], blur_sigma_px=[0.0, 0.99, 1.01])


def test_unknown_backend_is_refused():
    with pytest.raises(InputError, match="unknown array backend 'jax'"):
        backend("jax")


@requires_keras
@pytest.mark.parametrize("double, rtol", [(True, 1e-9), (False, 1e-5)])
def test_tensorflow_gives_the_numpy_psf(small_grid, double, rtol):
    mask = zernike_mask(small_grid, {6: 1.0, 12: -0.4})
    expected = psf_images(small_grid, mask_phase=mask, size_px=31, **EMITTERS)
    got = psf_images(small_grid, mask_phase=mask, size_px=31,
                     xp=backend("tensorflow", double=double), **EMITTERS)
    got = backend("tensorflow").to_numpy(got)
    assert got.dtype == (np.float64 if double else np.float32)
    # relative to each image's peak: float32 FFTs round to ~1e-7 of the largest value
    peak = expected.max(axis=(1, 2), keepdims=True)
    assert np.abs(got - expected).max() / peak.min() < rtol
    np.testing.assert_allclose(got.sum(axis=(1, 2)), expected.sum(axis=(1, 2)), rtol=rtol)


@requires_keras
def test_gradient_with_respect_to_the_mask(small_grid):
    """tf.GradientTape gives a finite, non-zero gradient of a PSF pixel with respect to
    the mask phase, equal to the finite difference of the NumPy kernel along a direction."""
    import tensorflow as tf

    xp = backend("tensorflow", double=True)
    start = zernike_mask(small_grid, {6: 0.7})
    mask = tf.Variable(start)
    pixel = (0, 15, 17)
    with tf.GradientTape() as tape:
        value = psf_images(small_grid, z_nm=1100.0, mask_phase=mask, size_px=31, xp=xp)[pixel]
    grad = tape.gradient(value, mask).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
    assert np.all(grad[small_grid.amplitude == 0] == 0)  # outside the aperture: no light
    direction = np.random.default_rng(3).normal(size=start.shape) * small_grid.amplitude
    eps = 1e-5
    plus = psf_images(small_grid, z_nm=1100.0, mask_phase=start + eps * direction,
                      size_px=31)[pixel]
    minus = psf_images(small_grid, z_nm=1100.0, mask_phase=start - eps * direction,
                       size_px=31)[pixel]
    assert (grad * direction).sum() == pytest.approx((plus - minus) / (2 * eps), rel=1e-5)


@requires_keras
def test_gradient_with_respect_to_the_position(small_grid):
    """Positions and z are differentiable too (a localization loss can use them)."""
    import tensorflow as tf

    xp = backend("tensorflow", double=True)
    dx, z = tf.Variable([0.2]), tf.Variable([900.0])
    with tf.GradientTape() as tape:
        images = psf_images(small_grid, dx_px=dx, z_nm=z, size_px=21, xp=xp)
        value = tf.reduce_sum(images[:, 10, 11:])  # light right of centre
    d_dx, d_z = tape.gradient(value, [dx, z])
    assert float(d_dx.numpy()[0]) > 0 and np.isfinite(float(d_z.numpy()[0]))
