"""The training losses against NumPy/SciPy references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from smlmscale.errors import InputError


@pytest.fixture(scope="module")
def losses():
    from smlmscale.models import losses

    return losses


def _pair(shape=(3, 17, 13, 2), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(shape, dtype=np.float32),
            rng.random(shape, dtype=np.float32) * 2 - 0.5)


def test_mse(losses):
    y_true, y_pred = _pair()
    expected = ((y_pred - y_true) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(losses.mse(y_true, y_pred)), expected, rtol=1e-5)


@pytest.mark.parametrize(("sigma_px", "l1_weight"), [(1.0, 0.0), (2.0, 1e-2), (0.7, 0.5)])
def test_blurred_mse_l1(losses, sigma_px, l1_weight):
    y_true, y_pred = _pair(seed=1)
    diff = (y_pred - y_true).astype(np.float64)
    blurred = ndimage.gaussian_filter(diff, sigma=(0, sigma_px, sigma_px, 0), mode="constant")
    expected = (blurred ** 2).mean(axis=(1, 2, 3)) + l1_weight * np.abs(y_pred).mean(
        axis=(1, 2, 3))
    loss = losses.blurred_mse_l1(sigma_px, l1_weight)
    per_sample = np.asarray(loss.call(y_true, y_pred))
    np.testing.assert_allclose(per_sample, expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(float(loss(y_true, y_pred)), expected.mean(), rtol=1e-4)


def test_gaussian_kernel(losses):
    k = losses.gaussian_kernel(1.5)
    assert k.shape == (13, 13)
    assert abs(k.sum() - 1) < 1e-6
    impulse = np.zeros((13, 13))
    impulse[6, 6] = 1
    np.testing.assert_allclose(k, ndimage.gaussian_filter(impulse, 1.5), atol=1e-7)


def test_poisson_counts(losses):
    rng = np.random.default_rng(3)
    y_true = rng.poisson(2.0, (2, 8, 8, 1)).astype(np.float32)
    y_pred = rng.random((2, 8, 8, 1), dtype=np.float32) * 4
    expected = (y_pred - y_true * np.log(y_pred + losses.POISSON_EPS)).mean(axis=(1, 2, 3))
    out = np.asarray(losses.poisson_counts(y_true, y_pred))
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    # minimal at the observed counts
    better = np.asarray(losses.poisson_counts(y_true + 1, y_true + 1))
    worse = np.asarray(losses.poisson_counts(y_true + 1, y_true + 1.5))
    assert np.all(better < worse)


def test_bad_parameters(losses):
    for sigma in (0, -1.0, float("nan"), "1"):
        with pytest.raises(InputError, match="sigma"):
            losses.blurred_mse_l1(sigma, 0.0)
    with pytest.raises(InputError, match="L1 weight"):
        losses.blurred_mse_l1(1.0, -1e-3)
    with pytest.raises(InputError, match="unknown loss"):
        losses.get_loss("huber")


def test_get_loss_and_config(losses):
    import keras

    assert losses.get_loss("mse") is losses.mse
    loss = losses.get_loss("blurred-mse", sigma_px=2.0, l1_weight=1e-5)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, losses.BlurredMSEL1)
    assert (again.sigma_px, again.l1_weight) == (2.0, 1e-5)
    fn = keras.losses.deserialize(keras.losses.serialize(losses.poisson_counts))
    assert fn is losses.poisson_counts


def test_lazy_exports():
    import smlmscale.models as models

    assert models.mse.__name__ == "mse"
    with pytest.raises(AttributeError):
        models.nothing_here  # noqa: B018
