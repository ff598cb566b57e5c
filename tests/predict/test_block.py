"""One block: normalization, the density's units, positions in nm at the pixel corner origin."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.predict.block import BlockSettings, normalize_frames, predict_block, unit_peak
from smlmscale.predict.tiles import make_grid


def test_normalize_frames_modes():
    frames = np.array([[[2.0, 4.0], [6.0, 10.0]], [[5.0, 5.0], [5.0, 5.0]]])
    np.testing.assert_array_equal(normalize_frames(frames, "frame"),
                                  [[[0, 0.25], [0.5, 1]], [[0, 0], [0, 0]]])
    np.testing.assert_array_equal(normalize_frames(frames, "scale", 2.0), frames / 2)
    assert normalize_frames(frames, "none").dtype == np.float32


def test_unit_peak_is_the_centre_of_scipys_gaussian():
    from scipy import ndimage

    spike = np.zeros((31, 31))
    spike[15, 15] = 1
    assert unit_peak(2.0) == pytest.approx(ndimage.gaussian_filter(spike, 2.0).max(), rel=1e-6)
    assert unit_peak(0.0) == 1.0


def test_predict_block_positions_and_confidence_in_target_units():
    # A "model" that puts one target-shaped spot (x target scale 100) at upsampled pixel
    # (row 9, col 21) of every frame: the localization is that pixel's centre in nm.
    from smlmscale.kernels.gaussian import gaussian_kernel1d

    kernel = np.outer(gaussian_kernel1d(1.0), gaussian_kernel1d(1.0))

    def model(batch):
        out = np.zeros(batch.shape, np.float32)
        r = kernel.shape[0] // 2
        out[:, 9 - r:9 + r + 1, 21 - r:21 + r + 1, 0] = 100 * kernel
        return out

    frames = np.random.default_rng(0).random((3, 8, 10)).astype(np.float32)
    grid = make_grid((8, 10), factor=4, align=8, radius=0, tile=1000)
    settings = BlockSettings(target_scale=100.0, unit_peak=unit_peak(1.0), threshold=0.5,
                             pixel_nm=25.0)
    seen = []
    table = predict_block(frames, 7, model, grid, settings,
                          density_out=lambda frame, d: seen.append((frame, d.shape)))
    assert table["frame"].tolist() == [7, 8, 9]
    np.testing.assert_allclose(table["x_nm"], (21 + 0.5) * 25.0)
    np.testing.assert_allclose(table["y_nm"], (9 + 0.5) * 25.0)
    np.testing.assert_allclose(table["confidence"], 1.0, rtol=1e-5)
    assert seen == [(7, (3, 32, 40))]
    none = predict_block(frames, 0, model, grid, BlockSettings(
        target_scale=100.0, unit_peak=unit_peak(1.0), threshold=1.5, pixel_nm=25.0))
    assert none.empty and list(none.columns) == ["frame", "x_nm", "y_nm", "confidence"]


def test_a_z_binned_model_gives_z_from_its_bin_profile():
    # A hand-built output map: one spot per frame, its mass split over z bins 1-3 of 5
    # (-500:500 nm: centres -400, -200, 0, 200, 400) as 0.25 / 0.5 / 0.25 in frame 0
    # and over bins 2-3 as 0.4 / 0.6 in frame 1: z = 0 and (0.4 * 0 + 0.6 * 200) = 120 nm.
    from smlmscale.kernels.gaussian import gaussian_kernel1d
    from smlmscale.predict.settings import PredictSettings, block_settings

    kernel = np.outer(gaussian_kernel1d(1.0), gaussian_kernel1d(1.0))
    profiles = np.array([[0, 0.25, 0.5, 0.25, 0], [0, 0, 0.4, 0.6, 0]], np.float32)

    def model(batch):
        out = np.zeros((*batch.shape[:3], 5), np.float32)
        r = kernel.shape[0] // 2
        for i, frame in enumerate(batch):
            which = int(frame[0, 0, 0] > 0.5)  # the frames say which profile they carry
            out[i, 12 - r:12 + r + 1, 6 - r:6 + r + 1] = (100 * kernel[..., None]
                                                          * profiles[which])
        return out

    frames = np.zeros((2, 8, 10), np.float32)
    frames[1, 0, 0], frames[:, 7, 9] = 2.0, 2.0
    meta = {"model": "deepstorm", "target_scale": 100.0, "normalization": {"mode": "frame"},
            "generator_params": {"z_bins": 5, "z_range_nm": [-500.0, 500.0],
                                 "target_sigma_px": 1.0}}
    settings = block_settings(PredictSettings(), meta, 25.0)
    assert settings.z_centres_nm == (-400.0, -200.0, 0.0, 200.0, 400.0)
    grid = make_grid((8, 10), factor=4, align=8, radius=0, tile=1000)
    table = predict_block(frames, 0, model, grid, settings, channels=5)
    assert list(table.columns) == ["frame", "x_nm", "y_nm", "z_nm", "confidence"]
    assert table["frame"].tolist() == [0, 1]
    np.testing.assert_allclose(table["z_nm"], [0.0, 120.0], atol=1e-3)
    np.testing.assert_allclose(table["x_nm"], (6 + 0.5) * 25.0)
    flat = block_settings(PredictSettings(), {**meta, "generator_params": {}}, 25.0)
    assert flat.z_centres_nm is None and "z_nm" not in predict_block(
        frames, 0, model, grid, flat, channels=5).columns


def test_affine_normalization():
    frames = np.array([[[110.0, 160.0]]])
    np.testing.assert_allclose(normalize_frames(frames, "affine", 50.0, 100.0), [[[0.2, 1.2]]])
