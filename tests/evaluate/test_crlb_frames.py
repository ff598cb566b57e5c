"""The frame limit: single-emitter bound against Mortensen Eq. 5, the local multi-emitter
bound against a whole-frame Fisher matrix, and the merge rule for unresolved pairs."""

import numpy as np
import pytest
from scipy.special import erf

from smlmscale.evaluate.crlb import mle_localization_variance_nm2
from smlmscale.evaluate.crlb_frames import RADIUS_SIGMAS, frame_bounds

PX, SIGMA, BG = 100.0, 130.0, 20.0


def _bounds(x, y, photons, frame=None, **kw):
    frame = np.zeros(len(x), np.int64) if frame is None else frame
    return frame_bounds(frame, np.asarray(x, float), np.asarray(y, float),
                        np.asarray(photons, float), psf_sigma_nm=kw.pop("sigma", SIGMA),
                        background_photons=kw.pop("bg", BG), pixel_size_nm=PX, **kw)


def _whole_frame(x_px, y_px, photons, sigma_px, bg, size):
    """Per-axis variance (px^2) of every emitter with all of them unknown on a whole
    ``size`` x ``size`` grid: the reference the local problems approximate."""
    edges = np.arange(size + 1.0)

    def axis(c):
        u = (edges[None, :] - c[:, None]) / (np.sqrt(2) * sigma_px)
        return (np.diff(0.5 * erf(u), axis=1),
                -np.diff(np.exp(-u * u) / (np.sqrt(2 * np.pi) * sigma_px), axis=1))

    ex, dex = axis(x_px)
    ey, dey = axis(y_px)
    k = len(x_px)
    mu = bg + np.einsum("i,ir,ic->rc", photons, ey, ex)
    d = np.empty((3 * k + 1, size, size))
    d[0:3 * k:3] = photons[:, None, None] * ey[:, :, None] * dex[:, None, :]
    d[1:3 * k:3] = photons[:, None, None] * dey[:, :, None] * ex[:, None, :]
    d[2:3 * k:3] = ey[:, :, None] * ex[:, None, :]
    d[-1] = 1.0
    d = d.reshape(len(d), -1)
    cov = np.linalg.inv((d / mu.ravel()) @ d.T)
    v = np.diag(cov)
    return 0.5 * (v[0:3 * k:3] + v[1:3 * k:3])


def test_an_emitter_alone_is_at_mortensens_information_limit():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 6400, 200), rng.uniform(0, 6400, 200)
    photons = rng.uniform(1500, 4000, 200)
    frame = np.arange(200)                               # one emitter per frame
    b = _bounds(x, y, photons, frame=frame)
    eq5 = mle_localization_variance_nm2(photons, psf_sigma_nm=SIGMA, background_photons=BG,
                                        pixel_size_nm=PX)
    np.testing.assert_allclose(b.single_nm2, eq5, rtol=0.03)   # sub-pixel position: +-3 %
    assert np.sqrt(b.single_nm2.sum() / eq5.sum()) == pytest.approx(1.0, abs=0.01)
    np.testing.assert_array_equal(b.joint_nm2, b.single_nm2)    # nothing else in the frame
    np.testing.assert_array_equal(b.limit_nm2, b.single_nm2)


def test_distant_emitters_do_not_couple_and_close_ones_lose_precision():
    far = _bounds([1000.0, 1000.0 + 3 * RADIUS_SIGMAS * SIGMA], [1000.0, 1000.0], [2000.0] * 2)
    np.testing.assert_allclose(far.joint_nm2, far.single_nm2, rtol=1e-9)
    wide = _bounds([1000.0, 1000.0 + 5 * SIGMA], [1000.0, 1000.0], [2000.0] * 2)
    np.testing.assert_allclose(wide.joint_nm2, wide.single_nm2, rtol=0.01)
    near = _bounds([1000.0, 1000.0 + 1.5 * SIGMA], [1000.0, 1000.0], [2000.0] * 2)
    assert np.all(near.joint_nm2 > 1.5 * near.single_nm2)
    np.testing.assert_allclose(near.limit_nm2, np.minimum(
        near.joint_nm2, near.single_nm2 + (1.5 * SIGMA) ** 2 / 8))


def test_unresolved_pairs_take_the_midpoint_error():
    b = _bounds([2000.0, 2000.0, 2030.0, 4000.0], [2000.0, 2000.0, 2000.0, 4000.0],
                [2000.0, 2500.0, 3000.0, 1800.0])
    assert np.all(np.isinf(b.joint_nm2[:3]))         # coincident: a singular Fisher matrix
    np.testing.assert_allclose(b.limit_nm2[:3], b.single_nm2[:3] + np.array([0, 0, 30]) ** 2 / 8)
    assert np.isfinite(b.joint_nm2[3]) and b.limit_nm2[3] == pytest.approx(b.single_nm2[3])


def test_the_local_problems_match_the_whole_frame():
    rng = np.random.default_rng(3)
    size, n = 48, 46                                  # 2 emitters per um^2 on 23 um^2
    x, y = rng.uniform(0, size * PX, n), rng.uniform(0, size * PX, n)
    photons = rng.uniform(1500, 4000, n)
    local = _bounds(x, y, photons)
    whole = _whole_frame(x / PX, y / PX, photons, SIGMA / PX, BG, size) * PX ** 2
    inner = (np.minimum(x, y) > 900) & (np.maximum(x, y) < size * PX - 900)  # field edges
    assert inner.sum() > 10
    np.testing.assert_allclose(local.joint_nm2[inner], whole[inner], rtol=0.04)
    assert np.median(local.joint_nm2[inner] / whole[inner]) == pytest.approx(1.0, abs=0.01)


def test_rows_in_any_order_frames_apart_and_the_noise_factor():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 3000, 30), rng.uniform(0, 3000, 30)
    photons, frame = rng.uniform(1000, 3000, 30), rng.integers(0, 3, 30)
    a = _bounds(x, y, photons, frame=frame)
    order = rng.permutation(30)
    b = _bounds(x[order], y[order], photons[order], frame=frame[order])
    for name in ("single_nm2", "joint_nm2", "limit_nm2"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name)[order], rtol=1e-9)
    one = frame == frame[0]
    alone = _bounds(x[one], y[one], photons[one])     # other frames are not neighbours
    np.testing.assert_allclose(alone.joint_nm2, a.joint_nm2[one], rtol=1e-9)
    emccd = _bounds(x, y, photons, frame=frame, noise_factor=2.0)
    np.testing.assert_allclose(emccd.joint_nm2, 2 * a.joint_nm2, rtol=1e-9)
    assert _bounds([], [], []).limit_nm2.shape == (0,)


def test_rows_without_a_bound_are_infinite_and_no_neighbour():
    x, y = [1000.0, 1100.0, 1050.0, np.nan], [1000.0, 1000.0, 1000.0, 0.0]
    b = _bounds(x, y, [2000.0, 0.0, 2000.0, 2000.0])
    assert np.isinf(b.limit_nm2[[1, 3]]).all()
    pair = _bounds([1000.0, 1050.0], [1000.0, 1000.0], [2000.0, 2000.0])
    np.testing.assert_allclose(b.limit_nm2[[0, 2]], pair.limit_nm2, rtol=1e-9)
    dark = _bounds([1000.0, 2000.0], [1000.0, 1000.0], [2000.0, 2000.0], bg=0.0)
    assert np.isfinite(dark.limit_nm2).all()   # no background: pixels far out hold nothing
