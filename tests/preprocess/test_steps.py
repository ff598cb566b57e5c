"""Each step's lazy graph equals its eager NumPy/SciPy reference, whatever the chunking."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.preprocess import background, blur, crop, normalize, offset, saturate
from smlmscale.preprocess import sum as sum_step
from smlmscale.preprocess.base import Backend
from tests.preprocess import reference
from tests.preprocess.helpers import SHAPE, random_movie
from tests.helpers import raise_if_dask_computes

pytestmark = pytest.mark.timeout(60)

#: Chunkings that cut through frames, rows and columns (and through halos), and none.
CHUNKINGS = [(5, 16, 16), (7, 9, 41), (1, 37, 13), SHAPE]

#: (module, params, reference function, its keyword arguments)
CASES = {
    "offset": (offset, offset.OffsetParams(baseline=100), reference.offset,
               dict(baseline=100)),
    "offset-photons": (offset, offset.OffsetParams(baseline=100, e_per_adu=4.8, em_gain=30,
                                                   qe=0.9),
                       reference.offset, dict(baseline=100, e_per_adu=4.8, em_gain=30, qe=0.9)),
    "background-min": (background, background.BackgroundParams(), reference.background, {}),
    "background-median": (background, background.BackgroundParams(mode="median", window=7),
                          reference.background, dict(mode="median", window=7)),
    "background-percentile": (background,
                              background.BackgroundParams(mode="percentile", window=11, q=20),
                              reference.background, dict(mode="percentile", window=11, q=20)),
    "background-long-window": (background, background.BackgroundParams(mode="median",
                                                                        window=101),
                               reference.background, dict(mode="median", window=101)),
    "saturate-frame": (saturate, saturate.SaturateParams(knee=0.6), reference.saturate,
                       dict(knee=0.6)),
    "saturate-percentile": (saturate, saturate.SaturateParams(knee=0.5, percentile=90),
                            reference.saturate, dict(knee=0.5, percentile=90)),
    "saturate-movie": (saturate, saturate.SaturateParams(knee=0.7, scope="movie"),
                       reference.saturate, dict(knee=0.7, scope="movie")),
    "saturate-level": (saturate, saturate.SaturateParams(knee=0.0, level=900),
                       reference.saturate, dict(knee=0.0, level=900)),
    "blur-1": (blur, blur.BlurParams(sigma=1.0), reference.blur, dict(sigma=1.0)),
    "blur-2": (blur, blur.BlurParams(sigma=2.0), reference.blur, dict(sigma=2.0)),  # halo 8
    "blur-5": (blur, blur.BlurParams(sigma=5.0, truncate=3.0), reference.blur,
               dict(sigma=5.0, truncate=3.0)),  # halo 15 ~ chunk
    "blur-12": (blur, blur.BlurParams(sigma=12.0), reference.blur,
                dict(sigma=12.0)),  # halo 48 > the frame
    "normalize-frame": (normalize, normalize.NormalizeParams(), reference.normalize, {}),
    "normalize-global": (normalize, normalize.NormalizeParams(mode="global", subtract=0,
                                                              divide=250),
                         reference.normalize, dict(mode="global", subtract=0, divide=250)),
    "normalize-meanstd": (normalize, normalize.NormalizeParams(mode="meanstd"),
                          reference.normalize, dict(mode="meanstd")),
    "normalize-meanstd-given": (normalize, normalize.NormalizeParams(mode="meanstd", mean=10.0),
                                reference.normalize, dict(mode="meanstd", mean=10.0)),
    "sum-4": (sum_step, sum_step.SumParams(frames=4, offset=100), reference.sum_frames,
              dict(frames=4, offset=100)),
    "sum-10": (sum_step, sum_step.SumParams(frames=10), reference.sum_frames,
               dict(frames=10)),
    "sum-1": (sum_step, sum_step.SumParams(frames=1, offset=100), reference.sum_frames,
              dict(frames=1, offset=100)),
    "crop": (crop, crop.CropParams(y="3:30", x="-10:"), reference.crop,
             dict(y=(3, 30), x=(-10, None))),
    "crop-t": (crop, crop.CropParams(t=(4, 21)), reference.crop, dict(t=(4, 21))),
}


def _assert_close(lazy, eager, dtype):
    rtol = 1e-5 if np.dtype(dtype).itemsize <= 4 else 1e-12
    scale = max(1.0, float(np.abs(eager).max()))
    np.testing.assert_allclose(lazy, eager, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=lambda c: "x".join(map(str, c)))
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_step_equals_eager_reference(case, chunks, dtype):
    module, params, eager, kwargs = CASES[case]
    movie = random_movie(dtype)
    with raise_if_dask_computes():
        lazy = module.build(da.from_array(movie, chunks=chunks), params, Backend())
    want = eager(movie, **kwargs)
    got = lazy.compute(scheduler="threads")
    assert got.shape == want.shape and got.dtype == want.dtype
    _assert_close(got, want, want.dtype)
    if got.shape == movie.shape:  # the chunking is kept
        assert lazy.chunks == da.from_array(movie, chunks=chunks).chunks


def test_float64_stays_float64():
    movie = random_movie(np.float32).astype(np.float64)
    lazy = blur.build(da.from_array(movie, chunks=(5, 16, 16)), blur.BlurParams(2.0), Backend())
    assert lazy.dtype == np.float64
    np.testing.assert_allclose(lazy.compute(), reference.blur(movie, 2.0), rtol=1e-12)


def test_blur_chunk_borders_are_bitwise_identical():
    movie = random_movie(np.float32)
    lazy = blur.build(da.from_array(movie, chunks=(5, 16, 16)), blur.BlurParams(2.0), Backend())
    np.testing.assert_array_equal(lazy.compute(), reference.blur(movie, 2.0))


def test_soft_saturation_is_smooth_monotonic_and_bounded():
    u = np.linspace(0, 3, 300001)
    y = saturate.soft_saturate(u, 1.0, knee=0.7)
    assert np.all(np.diff(y) > 0) and y.max() < 1.0  # strictly increasing, below the level
    far = saturate.soft_saturate(np.linspace(0, 1e4, 100001), 1.0, knee=0.7)
    assert np.all(np.diff(far) >= 0) and far.max() <= 1.0  # rounds to the level, never above
    np.testing.assert_array_equal(y[u <= 0.7], u[u <= 0.7])  # unchanged below the knee
    slope = np.diff(y) / np.diff(u)
    knee = np.searchsorted(u, 0.7)
    assert abs(slope[knee + 1] - 1) < 1e-3 and abs(slope[knee - 1] - 1) < 1e-9  # C1 at the knee
    frame = np.zeros((1, 4, 4), np.float32)  # a blank frame (level 0) is left alone
    blank = saturate.build(da.from_array(frame), saturate.SaturateParams(), Backend())
    np.testing.assert_array_equal(blank.compute(), frame)


def test_sum_drops_the_trailing_bin_and_keeps_whole_bins_per_chunk():
    movie = da.ones((23, 4, 4), chunks=(5, 4, 4), dtype=np.uint16) * 105
    out = sum_step.build(movie, sum_step.SumParams(frames=10, offset=100), Backend())
    assert out.shape == (2, 4, 4) and out.chunks[0] == (1, 1)
    np.testing.assert_array_equal(out.compute(), np.full((2, 4, 4), 150, np.float32))
    assert sum_step.bin_chunks((64,) * 10, 10) == (60,) * 10 + (40,)
    with pytest.raises(InputError, match="fewer than one bin"):
        sum_step.build(movie, sum_step.SumParams(frames=30), Backend())


def test_constant_frames_normalize_to_zero():
    movie = np.full((3, 5, 5), 7, np.uint16)
    frame = normalize.build(da.from_array(movie), normalize.NormalizeParams(), Backend())
    meanstd = normalize.build(da.from_array(movie), normalize.NormalizeParams(mode="meanstd"),
                              Backend())
    assert not frame.compute().any() and not meanstd.compute().any()


def test_crop_that_selects_nothing_is_an_input_error():
    with pytest.raises(InputError, match="y=40:50 selects nothing from 37 px"):
        crop.build(da.zeros(SHAPE), crop.CropParams(y="40:50"), Backend())


@pytest.mark.parametrize("make, message", [
    (lambda: offset.OffsetParams(baseline=100, qe=1.5), "qe must be in"),
    (lambda: offset.OffsetParams(baseline=100, em_gain=30), "needs e_per_adu"),
    (lambda: offset.OffsetParams(baseline=100, e_per_adu=0), "e_per_adu must be > 0"),
    (lambda: background.BackgroundParams(mode="mean"), "unknown mode 'mean'"),
    (lambda: background.BackgroundParams(mode="median", window=10), "odd number"),
    (lambda: background.BackgroundParams(mode="percentile", q=120), "q must be"),
    (lambda: saturate.SaturateParams(knee=1.0), "knee must be in"),
    (lambda: saturate.SaturateParams(level=-3), "level must be > 0"),
    (lambda: saturate.SaturateParams(scope="movie", percentile=99), "percentile=100"),
    (lambda: blur.BlurParams(sigma=0), "sigma must be > 0"),
    (lambda: normalize.NormalizeParams(mode="global", divide=0), "divide must be"),
    (lambda: normalize.NormalizeParams(divide=250), "only apply to mode=global"),
    (lambda: normalize.NormalizeParams(mode="global", std=3), "only apply to mode=meanstd"),
    (lambda: sum_step.SumParams(frames=0), "frames must be"),
    (lambda: crop.CropParams(), "nothing to crop"),
    (lambda: crop.CropParams(t="0:5", z="0:5"), "same (first) axis"),
    (lambda: crop.CropParams(y="a:b"), "whole pixels"),
])
def test_bad_parameters_are_input_errors(make, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()
