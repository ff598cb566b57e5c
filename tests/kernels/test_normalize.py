"""The seed's two input normalizations: project_01 (per image) and global_factors."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.kernels import normalize_global, normalize_patch, normalize_patches


def test_project_01_maps_each_image_to_0_1_by_its_own_range():
    rng = np.random.default_rng(0)
    stack = rng.gamma(2.0, 50.0, (5, 9, 7)) * np.arange(1, 6)[:, None, None] + 100
    stack[2] = 42.0  # a constant image becomes 0
    out = normalize_patches(stack.astype(np.uint16))
    assert out.dtype == np.float32 and out.shape == stack.shape
    for k in (0, 1, 3, 4):
        assert out[k].min() == 0.0 and out[k].max() == 1.0
        expected = (stack[k].astype(np.uint16) - stack[k].astype(np.uint16).min()) / np.ptp(
            stack[k].astype(np.uint16))
        np.testing.assert_allclose(out[k], expected, rtol=1e-6)
    assert not out[2].any()
    np.testing.assert_array_equal(normalize_patch(stack[1]), normalize_patches(stack)[1])


def test_global_factors_subtract_then_divide():
    images = np.array([[[0, 100], [250, 1000]]], dtype=np.uint16)
    out = normalize_global(images, subtract=100.0, divide=250.0)
    assert out.dtype == np.float32 and out.shape == images.shape
    np.testing.assert_allclose(out, (images.astype(np.float64) - 100) / 250)
    assert out[0, 0, 0] == pytest.approx(-0.4)  # below the offset: negative, not clipped
    for bad in (0.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="non-zero divide"):
            normalize_global(images, subtract=0.0, divide=bad)
