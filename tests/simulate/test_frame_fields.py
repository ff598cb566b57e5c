"""The seed's per-image background and baseline: a super-Gaussian drawn per frame (random
centre, angle, 50 % perturbation), a baseline drawn per frame in a range; noise-free
exposure."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from smlmscale.simulate import (BackgroundSettings, CameraSettings, movie_array,
                                render_frames, truth_rows)
from smlmscale.simulate.camera import expose
from smlmscale.simulate.frames import expected_photons, frame_baseline, frame_field, movie_model
from tests.simulate.helpers import small_settings

pytestmark = pytest.mark.timeout(60)

BACKGROUND = BackgroundSettings(photons_per_px=10.0, nonuniform_photons=50.0,
                                nonuniform_offset_px=6.0, nonuniform_per_frame=True)
QUIET = CameraSettings(qe=1.0, read_noise_e=0.0, shot_noise=False)


def test_the_super_gaussian_is_drawn_per_frame():
    settings = small_settings(size_px=32, frames=12, background=BACKGROUND,
                              camera=dataclasses.replace(QUIET, read_noise_e=2.0,
                                                         read_noise_max_e=6.0))
    model = movie_model(settings)
    maps = [frame_field(settings, model, f) for f in range(settings.frames)]
    peaks = np.array([m[0].max() for m in maps])
    where = {np.unravel_index(m[0].argmax(), m[0].shape) for m in maps}
    assert len(where) > 6 and peaks.std() > 1  # centres and amplitudes vary
    assert (peaks > 10 + 0.8 * 50).all() and (peaks <= 10 + 1.5 * 50 + 1e-9).all()
    for photons, read_noise in maps:  # read noise follows the frame's map
        g = (photons - 10.0) / (photons.max() - 10.0)
        np.testing.assert_allclose(read_noise.argmax(), g.argmax())
        assert 2.0 <= read_noise.min() and read_noise.max() <= 6.0
    expected = expected_photons(settings, 3, 9) - expected_photons(settings, 3, 9,
                                                                   background=False)
    np.testing.assert_allclose(expected, np.stack([m[0] for m in maps[3:9]]))
    truth = truth_rows(settings, 0, settings.frames)
    px = settings.pixel_size_nm
    for row in truth.itertuples():
        photons = maps[row.frame][0]
        assert row.background == photons[int(row.y_nm // px), int(row.x_nm // px)]


def test_per_frame_background_and_baseline_do_not_depend_on_the_chunking():
    settings = small_settings(frames=20, background=BACKGROUND,
                              camera=CameraSettings(baseline_range_adu=(20.0, 40.0)))
    a = movie_array(settings, chunk_frames=3).compute(scheduler="sync")
    b = movie_array(settings, chunk_frames=20).compute(scheduler="sync")
    np.testing.assert_array_equal(a, b)


def test_the_baseline_is_drawn_per_frame_in_its_range():
    settings = small_settings(frames=15, dtype="float32",
                              camera=dataclasses.replace(QUIET, baseline_range_adu=(20.0, 40.0)))
    offsets = render_frames(settings, 0, 15) - expected_photons(settings, 0, 15)
    baselines = np.array([frame_baseline(settings, f) for f in range(15)])
    np.testing.assert_allclose(offsets, np.broadcast_to(baselines[:, None, None], offsets.shape),
                               atol=1e-3)
    assert ((20 <= baselines) & (baselines <= 40)).all() and baselines.std() > 2
    assert frame_baseline(small_settings(), 3) is None


def test_exposure_without_shot_noise_is_the_expectation():
    photons = np.array([[0.0, 10.0], [100.0, 1000.5]])
    camera = CameraSettings(qe=0.8, em_gain=30.0, e_per_adu=2.0, baseline_adu=100.0,
                            read_noise_e=0.0, shot_noise=False)
    rng = np.random.default_rng(0)
    out = expose(rng, photons, camera, 0.0, "float32", baseline_adu=7.0)
    np.testing.assert_allclose(out, 0.8 * 30.0 * photons / 2.0 + 7.0, rtol=1e-6)
    assert rng.random() == np.random.default_rng(0).random()  # no draws
