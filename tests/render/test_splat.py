"""--blur precision kernel against a direct per-localization reference; the Drawing kernel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr

from smlmscale.render import splat as splat_module
from smlmscale.render.draw import Drawing, mean_value, precision_columns
from smlmscale.render.image import histogram
from smlmscale.render.splat import splat


def direct(x, y, sx, sy, *, shape, pixel_nm, weights=None):
    """Every localization's exact Gaussian mass over every pixel of the image (no window)."""
    weights = np.ones(len(x)) if weights is None else weights
    ex = np.arange(shape[1] + 1) * pixel_nm
    ey = np.arange(shape[0] + 1) * pixel_nm
    image = np.zeros(shape)
    for k in range(len(x)):
        wx = np.diff(ndtr((ex - x[k]) / sx[k]))
        wy = np.diff(ndtr((ey - y[k]) / sy[k]))
        image += weights[k] * np.outer(wy, wx)
    return image


def _points(n=300, seed=0, size_nm=400.0):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-10, size_nm + 10, (2, n))        # a few just outside the field
    sx = rng.uniform(3.0, 30.0, n)
    sy = sx * rng.uniform(0.5, 2.0, n)                    # anisotropic
    return x, y, sx, sy


def test_splat_matches_the_exact_gaussians_within_the_stated_tolerance():
    x, y, sx, sy = _points()
    shape = (42, 40)
    got = splat(x, y, sx, sy, shape=shape, pixel_nm=10.0)
    want = direct(x, y, sx, sy, shape=shape, pixel_nm=10.0)
    # at most 1.1 % of each localization's mass (L1, summed over the image)
    assert np.abs(got - want).sum() <= 0.011 * len(x)
    np.testing.assert_allclose(got, want, atol=0.011 * 1.0)
    # away from the edges every localization adds exactly one
    inside = (x > 150) & (x < 250) & (y > 150) & (y < 250) & (np.maximum(sx, sy) < 15)
    alone = splat(x[inside], y[inside], sx[inside], sy[inside], shape=shape, pixel_nm=10.0)
    assert alone.sum() == pytest.approx(inside.sum())


def test_splat_weights_batches_and_degenerate_precisions(monkeypatch):
    x, y, sx, sy = _points(n=120, seed=1)
    w = np.random.default_rng(2).uniform(0, 3, x.size)
    whole = splat(x, y, sx, sy, shape=(40, 40), pixel_nm=10.0, weights=w)
    monkeypatch.setattr(splat_module, "_BATCH_VALUES", 50)     # one localization a batch
    np.testing.assert_allclose(splat(x, y, sx, sy, shape=(40, 40), pixel_nm=10.0, weights=w),
                               whole, rtol=1e-12, atol=1e-12)
    # no precision (0, NaN, negative): the localization stays in its pixel, a histogram
    bad = np.array([0.0, np.nan, -1.0, np.inf])
    got = splat(x[:4], y[:4], bad, bad, shape=(40, 40), pixel_nm=10.0)
    np.testing.assert_array_equal(got, histogram(x[:4], y[:4], shape=(40, 40), pixel_nm=10.0))
    # a point exactly on a pixel edge with zero width, and a NaN position (dropped)
    edge = splat(np.array([20.0, np.nan]), np.array([30.0, 5.0]), np.zeros(2), np.zeros(2),
                 shape=(5, 5), pixel_nm=10.0)
    assert edge.sum() == 1 and edge[3, 2] == 1
    # very wide precisions are cut at MAX_RADIUS_PX, still normalized
    wide = splat(np.array([500.0]), np.array([500.0]), np.array([1e4]), np.array([1e4]),
                 shape=(100, 100), pixel_nm=10.0)
    assert wide.sum() == pytest.approx(1.0) and np.count_nonzero(wide) == 65 * 65


def test_drawing_channels():
    x, y, sx, sy = _points(n=200, seed=3)
    z = np.random.default_rng(4).uniform(-300, 300, x.size)
    z[5] = np.nan
    part = pd.DataFrame({"x_nm": x + 100.0, "y_nm": y - 50.0, "uncertainty_x_nm": sx,
                         "uncertainty_y_nm": sy, "z_nm": z})
    assert precision_columns(part.columns) == ("uncertainty_x_nm", "uncertainty_y_nm")
    assert precision_columns(["x_nm", "y_nm"]) is None
    draw = Drawing(shape=(40, 40), pixel_nm=10.0, origin_nm=(100.0, -50.0),
                   precision=precision_columns(part.columns), color_column="z_nm")
    stack = draw(part)
    keep = np.isfinite(z)
    np.testing.assert_allclose(stack[0], splat(x[keep], y[keep], sx[keep], sy[keep],
                                               shape=(40, 40), pixel_nm=10.0))
    np.testing.assert_allclose(stack[1], splat(x[keep], y[keep], sx[keep], sy[keep],
                                               shape=(40, 40), pixel_nm=10.0,
                                               weights=z[keep]))
    mean = mean_value(stack)
    assert np.isnan(mean[stack[0] == 0]).all()
    assert np.nanmin(mean) >= -300 - 1e-9 and np.nanmax(mean) <= 300 + 1e-9
    plain = Drawing(shape=(40, 40), pixel_nm=10.0, origin_nm=(100.0, -50.0))(part)
    np.testing.assert_array_equal(plain[0], histogram(x, y, shape=(40, 40), pixel_nm=10.0))
