"""The ``tophat`` step: exact equality with SciPy, chunking, the 2 r halo, laziness, params."""

from __future__ import annotations

import doctest

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi

from smlmscale.errors import InputError
from smlmscale.preprocess import morphology, tophat
from smlmscale.preprocess.base import Backend
from smlmscale.preprocess.morphology import footprint_array, white_tophat
from smlmscale.preprocess.tophat import STEP, TophatParams, build, halo_px, tophat_kernel
from tests.helpers import raise_if_dask_computes, requires_gpu


def reference(movie: np.ndarray, radius: int, footprint: str = "disk") -> np.ndarray:
    """The seed's eager loop: SciPy's white top-hat, frame by frame."""
    fp = footprint_array(footprint, radius)
    return np.stack([ndi.white_tophat(frame, footprint=fp) for frame in movie])


def random_frames(dtype, shape=(3, 37, 45), seed=0) -> np.ndarray:
    """Background gradient + noise + bright spots, so openings are not trivial."""
    rng = np.random.default_rng(seed)
    t, h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    frames = 2000 + 30 * x + 20 * y + rng.normal(0, 300, size=shape)
    spots = rng.integers(0, (t, h, w), size=(4 * t, 3))
    frames[spots[:, 0], spots[:, 1], spots[:, 2]] += 20000
    if np.dtype(dtype).kind == "f":
        return (frames - 6000).astype(dtype)  # negative values too
    return np.clip(frames, 0, 60000).astype(dtype)


@pytest.mark.parametrize("radius", range(1, 13))
def test_disk_is_skimage_disk(radius):
    from skimage.morphology import disk

    assert np.array_equal(footprint_array("disk", radius), disk(radius).astype(bool))


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
@pytest.mark.parametrize("footprint", ["disk", "square"])
@pytest.mark.parametrize("radius", [1, 2, 3, 5, 8, 10, 12])
def test_fast_equals_scipy_exactly(radius, footprint, dtype):
    frames = random_frames(dtype, seed=radius)
    got = white_tophat(frames, radius=radius, footprint=footprint)
    expected = reference(frames, radius, footprint)
    assert got.dtype == expected.dtype == np.dtype(dtype)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float64])
def test_fast_equals_scipy_other_dtypes(dtype):
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 250, size=(2, 30, 33)).astype(dtype)
    assert np.array_equal(white_tophat(frames, radius=4), reference(frames, 4))


@pytest.mark.parametrize("shape", [(2, 5, 7), (1, 1, 1), (2, 1, 30), (2, 13, 4), (2, 24, 40)])
@pytest.mark.parametrize("radius", [3, 12])
def test_small_frames_equal_scipy(shape, radius):
    """Frames smaller than the footprint: the reflection repeats, as in SciPy."""
    frames = random_frames(np.float32, shape=shape, seed=sum(shape))
    for footprint in ("disk", "square"):
        expected = reference(frames, radius, footprint)
        assert np.array_equal(white_tophat(frames, radius=radius, footprint=footprint), expected)


def test_tiny_axis_follows_repeated_reflection():
    """Axes of 2..r/4 px, where SciPy reads outside the array: np.pad "symmetric" semantics."""
    radius, pad = 12, 24
    frames = random_frames(np.float32, shape=(2, 2, 30), seed=3)
    padded = np.pad(frames, ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")
    expected = reference(padded, radius)[:, pad:-pad, pad:-pad]
    assert np.array_equal(white_tophat(frames, radius=radius), expected)


def test_identical_to_scipy_wherever_axes_exceed_a_quarter_radius():
    """The documented domain: every axis of 1 px or more than radius / 4 px."""
    rng = np.random.default_rng(9)
    for height in range(1, 7):
        for width in (1, 2, 3, 9):
            for radius in range(1, 25, 3):
                if not all(n == 1 or n > radius / 4 for n in (height, width)):
                    continue
                frame = rng.normal(size=(1, height, width)).astype(np.float32)
                for footprint in ("disk", "square"):
                    assert np.array_equal(white_tophat(frame, radius=radius, footprint=footprint),
                                          reference(frame, radius, footprint))


def test_2d_frame_and_bool():
    frame = random_frames(np.uint16, shape=(1, 40, 41))[0]
    assert np.array_equal(white_tophat(frame, radius=7), reference(frame[None], 7)[0])
    mask = frame > 3000
    assert np.array_equal(white_tophat(mask, radius=3),
                          ndi.white_tophat(mask, footprint=footprint_array("disk", 3)))


@pytest.mark.parametrize("group_bytes", [1, 30_000])
def test_frame_groups_reuse_buffers(monkeypatch, group_bytes):
    """Several frame groups (the last one shorter) through the same work arrays."""
    monkeypatch.setattr(morphology, "GROUP_BYTES", group_bytes)
    frames = random_frames(np.uint16, shape=(5, 33, 35), seed=11)
    for footprint in ("disk", "square"):
        assert np.array_equal(white_tophat(frames, radius=4, footprint=footprint),
                              reference(frames, 4, footprint))


@pytest.mark.parametrize(("height", "width", "pad"), [(5, 7, 1), (5, 7, 5), (30, 40, 24),
                                                      (3, 40, 3), (1, 1, 1), (4, 4, 9)])
def test_pad_symmetric_is_numpy_pad(height, width, pad):
    frames = np.arange(2 * height * width).reshape(2, height, width)
    got = morphology._pad_symmetric(frames, pad, morphology._Buffers(frames.dtype))
    assert np.array_equal(got, np.pad(frames, ((0, 0), (pad, pad), (pad, pad)),
                                      mode="symmetric"))


def test_width_steps_build_every_width_from_overlapping_halves():
    for radius in range(1, 40):
        widths = morphology.row_half_widths(footprint_array("disk", radius))
        steps = morphology._width_steps(widths)
        built = {0}
        for a, b in steps:
            assert b in built and (a <= 2 * b or (a, b) == (1, 0))
            built.add(a)
        assert set(widths) <= built


@pytest.mark.parametrize("method", ["fast", "scipy"])
def test_kernel_methods_equal_reference(method):
    frames = random_frames(np.uint16, shape=(4, 33, 47))
    params = TophatParams(radius=5, method=method)
    assert np.array_equal(tophat_kernel(frames, params=params), reference(frames, 5))


def test_output_depends_on_input_exactly_2r_away():
    """The opening reaches 2 radius px: a pixel 2 r away changes the output, farther ones cannot."""
    radius = 5
    frame = np.zeros((64, 64), np.float32)
    cy, cx = 32, 30
    frame[cy - radius:cy + radius + 1, cx - radius:cx + radius + 1] = footprint_array(
        "disk", radius)  # a plateau the shape of the footprint: its opening is itself
    probe = (cy, cx + radius)
    assert white_tophat(frame, radius=radius)[probe] == 0
    frame[cy, cx - radius] = 0  # 2 r px left of the probe: the plateau no longer fits the disk
    assert white_tophat(frame, radius=radius)[probe] == 1

    rng = np.random.default_rng(1)
    image = rng.random((70, 70)).astype(np.float32)
    scrambled = rng.random((70, 70)).astype(np.float32)
    window = slice(35 - 2 * radius, 35 + 2 * radius + 1)
    scrambled[window, window] = image[window, window]
    assert white_tophat(image, radius=radius)[35, 35] == white_tophat(scrambled,
                                                                      radius=radius)[35, 35]


def test_halo_of_2r_needed_at_chunk_borders():
    """The plateau case cut by a chunk border next to the probe: depth 2 r exact, 2 r - 1 not."""
    radius = 5
    frame = np.zeros((1, 64, 64), np.float32)
    cy, cx = 32, 30
    frame[0, cy - radius:cy + radius + 1, cx - radius:cx + radius + 1] = footprint_array(
        "disk", radius)
    frame[0, cy, cx - radius] = 0
    movie = da.from_array(frame, chunks=(1, 64, (cx + radius, 64 - cx - radius)))
    params = TophatParams(radius=radius)
    assert halo_px(params) == 2 * radius
    expected = reference(frame, radius)
    assert np.array_equal(build(movie, params, Backend()).compute(), expected)

    def kernel(block):
        return tophat_kernel(block, params=params)

    short = movie.map_overlap(kernel, depth=(0, 2 * radius - 1, 2 * radius - 1),
                              boundary="none", dtype=movie.dtype).compute()
    assert not np.array_equal(short, expected)


@pytest.mark.parametrize("footprint", ["disk", "square"])
@pytest.mark.parametrize(("radius", "chunks"), [(6, (3, 20, 20)), (2, (7, 9, 11)),
                                                (10, (5, 37, 16)), (12, (61, 16, 16)),
                                                (3, (10, 37, 45))])
def test_build_equals_eager_whatever_the_chunking(movie, radius, chunks, footprint):
    lazy = da.from_array(movie, chunks=chunks)
    params = TophatParams(radius=radius, footprint=footprint)
    result = build(lazy, params, Backend("cpu"))
    assert result.chunks == lazy.chunks and result.dtype == movie.dtype
    assert np.array_equal(result.compute(), reference(movie, radius, footprint))


def test_build_float_input_method_scipy(movie):
    frames = movie.astype(np.float32) / 7
    lazy = da.from_array(frames, chunks=(4, 19, 23))
    result = build(lazy, TophatParams(radius=4, method="scipy"), Backend())
    np.testing.assert_array_equal(result.compute(), reference(frames, 4))


def test_build_does_not_compute(movie):
    lazy = da.from_array(movie, chunks=(3, 20, 20))
    with raise_if_dask_computes():
        result = build(lazy, TophatParams(radius=6), Backend())
    assert result.shape == movie.shape


@pytest.mark.parametrize("kwargs", [dict(radius=0), dict(radius=-3), dict(radius=2.5),
                                    dict(radius=True), dict(radius="10"),
                                    dict(footprint="circle"), dict(footprint=3),
                                    dict(method="van-herk")])
def test_params_rejected(kwargs):
    with pytest.raises(InputError, match="tophat"):
        TophatParams(**kwargs)


def test_params_defaults_and_normalization():
    assert TophatParams() == TophatParams(radius=10, footprint="disk", method="fast")
    params = TophatParams(radius=6.0, footprint=" Square ", method="SciPy")
    assert (params.radius, params.footprint, params.method) == (6, "square", "scipy")
    assert isinstance(params.radius, int)


def test_step_contract():
    assert STEP.name == "tophat" and STEP.params is TophatParams and STEP.build is build
    assert STEP.summary


def test_doctests():
    for module in (morphology, tophat):
        assert doctest.testmod(module).failed == 0


@requires_gpu
@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_gpu_equals_eager(movie, dtype):
    frames = movie.astype(dtype)
    backend = Backend("gpu")
    lazy = backend.to_device(da.from_array(frames, chunks=(8, 20, 20)))
    result = backend.to_host(build(lazy, TophatParams(radius=6), backend)).compute()
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, reference(frames, 6))
