"""Graph builders: lazy, and the same values for any chunking, scheduler or worker count."""

from __future__ import annotations

import dataclasses

import dask
import numpy as np
import pandas as pd
import pytest

from smlmscale.simulate import (EmitterSettings, MovieSettings, PsfSettings, SpectralSettings,
                                movie_array, render_frames, truth_frame, truth_rows)
from tests.helpers import raise_if_dask_computes
from tests.simulate.helpers import small_settings

pytestmark = pytest.mark.timeout(60)

VARIANTS = {
    "gaussian": {},
    "astigmatic-emccd": {"psf": PsfSettings(model="astigmatic"),
                         "camera": dataclasses.replace(MovieSettings().camera, em_gain=30.0,
                                                       read_noise_max_e=5.0)},
    "spectral-range": {"size_px": (24, 96), "emitters": EmitterSettings(per_frame_range=(1, 9)),
                       "spectral": SpectralSettings(enabled=True, offset_px=30,
                                                    box_width_px=30)},
}


def _truth(frame) -> pd.DataFrame:
    return frame.reset_index(drop=True)


def test_graph_builders_are_lazy():
    settings = small_settings()
    with raise_if_dask_computes():
        movie = movie_array(settings, chunk_frames=7)
        truth = truth_frame(settings, chunk_frames=7)
        mean = movie.astype(np.float32).mean(axis=0)
        photons = truth["photons"].sum()
    assert movie.shape == (40, 24, 24) and movie.dtype == np.uint16
    assert movie.chunks[0] == (7, 7, 7, 7, 7, 5) and truth.npartitions == 6
    assert mean.shape == (24, 24) and photons is not None
    assert list(truth.columns) == ["frame", "x_nm", "y_nm", "photons", "background",
                                   "sigma_nm", "emitter", "detectable"]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_chunking_does_not_change_the_movie_or_truth(variant):
    settings = small_settings(**VARIANTS[variant])
    a = movie_array(settings, chunk_frames=7).compute(scheduler="sync")
    b = movie_array(settings, chunk_frames=32).compute(scheduler="threads")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[11:19], render_frames(settings, 11, 19))
    ta = _truth(truth_frame(settings, chunk_frames=7).compute(scheduler="sync"))
    tb = _truth(truth_frame(settings, chunk_frames=32).compute(scheduler="sync"))
    pd.testing.assert_frame_equal(ta, tb)
    assert ta["frame"].is_monotonic_increasing and len(ta) > 40
    one = truth_rows(settings, 0, settings.frames)
    pd.testing.assert_frame_equal(ta, one)


def test_worker_processes_give_the_same_movie_and_truth(client):
    settings = small_settings(psf=PsfSettings(model="astigmatic"))
    local = movie_array(settings, chunk_frames=32).compute(scheduler="sync")
    with dask.config.set(scheduler=client):
        remote = movie_array(settings, chunk_frames=7).compute()
        truth_remote = _truth(truth_frame(settings, chunk_frames=7).compute())
    np.testing.assert_array_equal(local, remote)
    pd.testing.assert_frame_equal(
        _truth(truth_frame(settings, chunk_frames=32).compute(scheduler="sync")), truth_remote)


def test_seed_changes_the_movie_and_frames_differ():
    a = render_frames(small_settings(), 0, 6)
    b = render_frames(small_settings(seed=8), 0, 6)
    assert not np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])  # noise is drawn per frame


def test_truth_and_movie_agree():
    """Bright emitters of the truth are where the movie is bright."""
    settings = small_settings(size_px=48, emitters=EmitterSettings(per_frame_range=(3, 3)))
    movie = render_frames(settings, 0, settings.frames).astype(np.float64)
    truth = truth_rows(settings, 0, settings.frames)
    row = np.clip((truth["y_nm"] // 100).astype(int), 0, 47)
    col = np.clip((truth["x_nm"] // 100).astype(int), 0, 47)
    at_emitters = movie[truth["frame"], row, col]
    assert np.median(at_emitters) > np.median(movie) + 50


@pytest.mark.parametrize("on_frames", [1.0, 4.0])
def test_frames_with_truth_equals_the_two_calls(on_frames):
    from smlmscale.simulate.frames import frames_with_truth

    settings = small_settings(emitters=EmitterSettings(density_per_um2=3.0,
                                                       on_frames_mean=on_frames))
    frames, truth = frames_with_truth(settings, 2, 7, 4, 6)
    np.testing.assert_array_equal(frames, render_frames(settings, 2, 7))
    pd.testing.assert_frame_equal(truth, truth_rows(settings, 4, 6), check_exact=True)
    assert len(truth)
