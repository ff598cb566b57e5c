"""fusion kernels (SF, leave-one-out, runs, boxes, denoise, selection) and build_fusion."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import scipy.ndimage as ndi

from smlmscale.errors import InputError
from smlmscale.io.tables import TableMeta, write_table
from smlmscale.patches.base import Runner
from smlmscale.patches.frames import FrameTable
from smlmscale.patches.fusion import (consecutive_runs, denoise, draw_boxes,
                                      leave_one_out_fusion, select_events, spatial_frequency)
from smlmscale.patches.fusion_graph import FusionSettings, build_fusion, plan_runs
from smlmscale.preprocess.morphology import footprint_array
from tests.patches.spectral import PIXEL_NM, SIGNAL_MIN, simulate_spectral

pytestmark = pytest.mark.timeout(120)
SETTINGS = FusionSettings(signal_min=SIGNAL_MIN, spectral_offset_px=230, seed=3)


@pytest.fixture(scope="module")
def data():
    return simulate_spectral(seed=1)


@pytest.fixture(scope="module")
def store(data, tmp_path_factory):
    """The movie as an OME-Zarr store, 64-frame chunks."""
    from smlmscale.io.ome_zarr import create_image_store

    path = tmp_path_factory.mktemp("fusion") / "movie.zarr"
    create_image_store(path, shape=data.movie.shape, dtype=np.uint16, chunks=(64, 48, 352),
                       pixel_size_nm=PIXEL_NM)[:] = data.movie
    return path


def frame_table(table: pd.DataFrame, parts: int = 3, path="sim.parquet") -> FrameTable:
    """A FrameTable over ``table`` cut into ``parts`` frame-ordered in-memory parts."""
    edges = np.linspace(0, len(table), parts + 1).astype(int)
    pieces = [table.iloc[a:b].reset_index(drop=True) for a, b in zip(edges[:-1], edges[1:])]
    return FrameTable(path=path, parts=[dask.delayed(p) for p in pieces],
                      first=np.array([p.frame.iloc[0] for p in pieces]),
                      last=np.array([p.frame.iloc[-1] for p in pieces]),
                      columns=list(table.columns), pixel_size_nm=PIXEL_NM, n_rows=len(table),
                      empty=table.iloc[:0])


def computed(gen, **kwargs):
    results = dask.compute(*gen.tasks, **kwargs)
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def sf_loop(image):
    """Li, Kwok & Wang (2001), eqs. 1-3, with their 1-based sums."""
    m_rows, n_cols = image.shape
    rf = cf = 0.0
    for m in range(1, m_rows + 1):
        for n in range(2, n_cols + 1):
            rf += (image[m - 1, n - 1] - image[m - 1, n - 2]) ** 2
    for n in range(1, n_cols + 1):
        for m in range(2, m_rows + 1):
            cf += (image[m - 1, n - 1] - image[m - 2, n - 1]) ** 2
    return np.sqrt(rf / (m_rows * n_cols) + cf / (m_rows * n_cols))


@pytest.mark.parametrize("shape", [(16, 64), (16, 16), (5, 3), (1, 7)])
def test_spatial_frequency_is_the_papers_formula(shape):
    images = np.random.default_rng(0).normal(size=(4, *shape))
    expected = [sf_loop(image) for image in images]
    np.testing.assert_allclose(spatial_frequency(images), expected, rtol=1e-12)
    assert spatial_frequency(np.full(shape, 3.0)) == 0


def test_leave_one_out_equals_the_naive_sum():
    rng = np.random.default_rng(1)
    patches = rng.uniform(size=(13, 4, 6))
    weights = rng.uniform(0.5, 2, 13)
    weights[[7, 8, 9]] = 0  # run 2 below: only event 10 weighs, so its others weigh 0
    starts = [0, 5, 7]
    out = leave_one_out_fusion(patches, weights, starts)
    for a, b in zip(starts, starts[1:] + [13]):
        for n in range(a, b):
            others = [i for i in range(a, b) if i != n]
            w = weights[others]
            if w.sum() > 0:
                expected = np.tensordot(w, patches[others], axes=1) / w.sum()
            else:
                expected = patches[others].mean(axis=0)
            np.testing.assert_allclose(out[n], expected, rtol=1e-12)
    with pytest.raises(ValueError):
        leave_one_out_fusion(patches[:3], weights[:3], [0, 2])


def test_runs_split_at_gaps_and_duplicates_and_must_be_long_enough():
    # cluster 4: 0..9 (10), gap, 12..14 (3); cluster 1: 3..6, 6..15 (duplicate 6); noise
    frames = np.array([*range(10), 12, 13, 14, 3, 4, 5, 6, 6, *range(7, 16), 2, 3, 4])
    labels = np.array([4] * 13 + [1] * 14 + [-1] * 3)
    shuffle = np.random.default_rng(2).permutation(frames.size)
    runs, n_runs, longest = consecutive_runs(frames[shuffle], labels[shuffle], min_run=3)
    assert (n_runs, longest) == (4, 10)
    assert runs[["label", "first_frame", "length"]].values.tolist() == [
        [4, 0, 10], [1, 3, 4], [1, 6, 10]]
    assert frames[shuffle][runs.first_row].tolist() == [0, 3, 6]
    assert consecutive_runs(frames, labels, min_run=4)[0].length.tolist() == [10, 10]
    assert consecutive_runs(frames, labels, min_run=10)[0].empty


def test_box_draws_are_reproducible_and_in_range():
    n, pixel = 3000, 100.0
    rng = np.random.default_rng(3)
    x, y = rng.uniform(2000, 4000, n), rng.uniform(2000, 4000, n)
    kwargs = dict(pixel_size_nm=pixel, seed=11, box_px=16, shift_px=6, spectral_offset_px=230,
                  spectral_jitter_px=(-10, 20), row_jitter_px=1)
    boxes = draw_boxes(x, y, **kwargs)
    np.testing.assert_array_equal(boxes, draw_boxes(x, y, **kwargs))
    cx, cy = np.floor(x / pixel).astype(int), np.floor(y / pixel).astype(int)
    sy, sx = cy - 8 - boxes[:, 0], cx - 8 - boxes[:, 1]
    jitter = boxes[:, 3] - cx - 230 + sx
    row_shift = boxes[:, 0] - boxes[:, 2]
    for value, lo, hi in ((sy, -6, 6), (sx, -6, 6), (jitter, -10, 20), (row_shift, -1, 1)):
        assert (value.min(), value.max()) == (lo, hi)  # inclusive bounds, all reached
    draws = np.random.default_rng([11, 5])
    assert tuple(draws.integers(-6, 7, size=2)) == (sy[5], sx[5])
    assert draws.integers(-10, 21) == jitter[5]
    plain = draw_boxes(x, y, **{**kwargs, "spectral_offset_px": None})
    np.testing.assert_array_equal(plain[:, :2], boxes[:, :2])
    np.testing.assert_array_equal(plain[:, 2:], plain[:, :2])


def test_denoise_is_scipys_tophat_of_each_scaled_part():
    fused = np.random.default_rng(4).gamma(2.0, size=(3, 16, 64))
    fused[2, :, :16] = 0  # max 0: left as is
    out = denoise(fused, loc_width_px=16, amplification=0.5, radius_px=10)
    disk = footprint_array("disk", 10)
    for f, o in zip(fused, out):
        loc, spec = f[:, :16], f[:, 16:]
        loc = loc / (loc.max() or 1.0)
        np.testing.assert_array_equal(o[:, :16], ndi.white_tophat(loc, footprint=disk))
        np.testing.assert_array_equal(o[:, 16:],
                                      ndi.white_tophat(spec / (0.5 * spec.max()), footprint=disk))


def test_selection_is_half_the_range_and_needs_the_peak():
    ratio = np.array([1.0, 2.0, 5.0, np.nan, 3.0, 3.0, 3.0])
    peak = np.array([1, 1, 1, 1, 1, 0.05, 1.0])
    keep = select_events(ratio, peak, [0, 4], min_peak=0.09)
    # run 1: threshold (5 - 1) / 2 = 2 -> only 5 (NaN never); run 2: range 0 -> all but dim
    assert keep.tolist() == [False, False, True, False, True, False, True]


def test_plan_finds_the_simulated_runs(data):
    keep = data.table.photons > SIGNAL_MIN
    rows = data.table[keep]
    runs, stats = plan_runs(rows.frame.to_numpy(), rows.x_nm.to_numpy(), rows.y_nm.to_numpy(),
                            pixel_size_nm=PIXEL_NM, height=48, width=352, settings=SETTINGS)
    expected = sorted(r for r in data.runs if r[1] > SETTINGS.min_run)
    assert sorted(zip(runs.first_frame, runs.length)) == expected
    assert stats["clusters"] == 40 and runs.inside.all()
    assert (np.diff(runs.first_frame) >= 0).all()


def reference_pairs(movie, runs, settings, scale):
    """Straightforward per-run, per-event loops with SciPy's top-hat."""
    disk = footprint_array("disk", settings.tophat_radius_px)
    inputs, targets = [], []
    for run in runs.itertuples():
        raw = []
        for f in range(run.first_frame, run.first_frame + run.length):
            loc = movie[f, run.row0:run.row0 + 16, run.col0:run.col0 + 16]
            spec = movie[f, run.srow0:run.srow0 + 16, run.scol0:run.scol0 + 48]
            raw.append(np.concatenate([loc, spec], axis=1) / scale)
        sf = [spatial_frequency(p) for p in raw]
        fused = [sum(sf[i] * raw[i] for i in range(len(raw)) if i != n)
                 / sum(sf[i] for i in range(len(raw)) if i != n) for n in range(len(raw))]
        tgt = [np.concatenate([ndi.white_tophat(f[:, :16] / f[:, :16].max(), footprint=disk),
                               ndi.white_tophat(f[:, 16:] / (0.5 * f[:, 16:].max()),
                                                footprint=disk)], axis=1) for f in fused]
        ratio = np.array([spatial_frequency(t) / s for t, s in zip(tgt, sf)])
        for n in range(len(raw)):
            if (ratio[n] > (ratio.max() - ratio.min()) / 2
                    and raw[n][:, :16].max() >= settings.min_peak):
                inputs.append(raw[n])
                targets.append(tgt[n])
    return np.array(inputs), np.array(targets)


def snr(image, r, c):
    """Peak at ``(r, c)`` over the background: the pixels more than 4 px away.

    ``(peak - median) / (1.4826 * MAD)``: the robust noise level ignores the
    occasional neighbouring emitter in the background.
    """
    rows, cols = np.indices(image.shape)
    background = image[np.maximum(abs(rows - r), abs(cols - c)) > 4]
    level = np.median(background)
    return (image[r, c] - level) / (1.4826 * np.median(abs(background - level)))


def test_build_fusion_matches_reference_and_raises_snr(data):
    movie = da.from_array(data.movie, chunks=(64, 48, 352))
    gen = build_fusion(movie, frame_table(data.table), pixel_size_nm=PIXEL_NM, settings=SETTINGS)
    assert gen.sizes is None and gen.input_shape == gen.target_shape == (16, 64, 1)
    assert gen.attrs["generator"] == "fusion" and gen.chunk > 0
    stats = gen.attrs["stats"]
    assert stats["localizations"] == len(data.table)
    assert stats["after_signal_filter"] == (data.table.photons > SIGNAL_MIN).sum()
    inputs, targets = computed(gen, scheduler="sync")
    assert inputs.dtype == targets.dtype == np.float32 and len(inputs) > 300
    ratios = []
    for raw, target in zip(inputs[..., :16, 0], targets[..., :16, 0]):
        r, c = np.unravel_index(np.argmax(target), target.shape)
        ratios.append(snr(target, r, c) / snr(raw, r, c))
    assert np.median(ratios) > 2.5  # about sqrt(events - 1); 3.7 on this movie
    keep = data.table.photons > SIGNAL_MIN
    rows = data.table[keep]
    runs, _ = plan_runs(rows.frame.to_numpy(), rows.x_nm.to_numpy(), rows.y_nm.to_numpy(),
                        pixel_size_nm=PIXEL_NM, height=48, width=352, settings=SETTINGS)
    ref_in, ref_tg = reference_pairs(data.movie, runs[runs.inside].iloc[:12], SETTINGS, 2.0**16)
    assert len(ref_in) > 100
    n = len(ref_in)  # the first 12 runs' pairs
    np.testing.assert_allclose(inputs[:n, ..., 0], ref_in, rtol=1e-6)
    np.testing.assert_allclose(targets[:n, ..., 0], ref_tg, rtol=1e-5, atol=1e-6)


def test_localization_only_and_float_movies(data):
    settings = FusionSettings(signal_min=SIGNAL_MIN, min_peak=0.0)
    movie = da.from_array(data.movie.astype(np.float32), chunks=(100, 48, 352))
    gen = build_fusion(movie, frame_table(data.table), pixel_size_nm=PIXEL_NM, settings=settings)
    assert gen.input_shape == (16, 16, 1) and gen.attrs["normalization"]["scale"] == 1.0
    inputs, targets = computed(gen, scheduler="sync")
    assert inputs.shape[1:] == targets.shape[1:] == (16, 16, 1) and len(inputs)
    assert inputs.max() > 1000  # not divided


def test_graph_is_lazy_in_the_movie(data):
    def boom(block):
        raise AssertionError("the movie was computed")

    movie = da.from_array(data.movie, chunks=(64, 48, 352)).map_blocks(boom, dtype=np.uint16)
    gen = build_fusion(movie, frame_table(data.table), pixel_size_nm=PIXEL_NM, settings=SETTINGS)
    assert len(gen.tasks) >= 3


def test_distributed_equals_sync_and_any_chunking(data, store, client):
    from smlmscale.io.ome_zarr import open_image_store

    table = frame_table(data.table)
    movie = da.from_zarr(open_image_store(store).array)
    gen = build_fusion(movie, table, pixel_size_nm=PIXEL_NM, settings=SETTINGS,
                       runner=Runner(client))
    results = client.gather(client.compute(gen.tasks))
    inputs = np.concatenate([r[0] for r in results])
    targets = np.concatenate([r[1] for r in results])
    with dask.config.set(scheduler="sync"):
        other = build_fusion(da.from_array(data.movie, chunks=(37, 48, 352)), frame_table(
            data.table, parts=1), pixel_size_nm=PIXEL_NM, settings=SETTINGS, runner=Runner())
        inputs2, targets2 = computed(other)
    assert len(other.tasks) != len(gen.tasks)
    assert other.attrs == gen.attrs
    np.testing.assert_array_equal(inputs, inputs2)
    np.testing.assert_array_equal(targets, targets2)


@pytest.mark.parametrize("kwargs, words", [
    ({"min_run": 0}, "min-run must be at least 1"),
    ({"box_px": 1}, "box must be at least 2"),
    ({"eps_nm": -5.0}, "eps must be positive"),
    ({"scale": 0.0}, "scale must be positive"),
    ({"spectral_amplification": float("inf")}, "spectral-amplification must be positive"),
    ({"spectral_jitter_px": (5, 1)}, "spectral-jitter"),
    ({"signal_min": float("nan")}, "signal-min"),
    ({"seed": -1}, "seed must be at least 0"),
])
def test_bad_settings(kwargs, words):
    with pytest.raises(InputError, match=words):
        FusionSettings(**kwargs)


@pytest.mark.parametrize("change, words", [
    ({"signal_min": 1e9}, r"no localization has photons above 1e\+09 \(879 rows\)"),
    ({"min_run": 40}, r"longer than 40 frames \(40 clusters, the longest run has 25 frames\)"),
    ({"box_px": 50}, "50x50 px box is larger than the 48x352 frame"),
    ({"spectral_offset_px": 320}, "does not fit in the 352 px wide frame"),
    ({"spectral_offset_px": 300}, r"the boxes of all \d+ runs leave the 48x352 frame"),
])
def test_bad_inputs(data, change, words):
    settings = FusionSettings(**{**SETTINGS.__dict__, **change})
    movie = da.from_array(data.movie, chunks=(64, 48, 352))
    with pytest.raises(InputError, match=words):
        build_fusion(movie, frame_table(data.table), pixel_size_nm=PIXEL_NM, settings=settings)


def test_missing_photons_and_frames_beyond_the_movie(data, tmp_path):
    path = tmp_path / "locs.parquet"
    write_table(data.table.drop(columns="photons"), path, meta=TableMeta(pixel_size_nm=PIXEL_NM))
    movie = da.from_array(data.movie, chunks=(64, 48, 352))
    with pytest.raises(InputError, match="locs.parquet: the fusion generator needs a photons"):
        build_fusion(movie, FrameTable.open(path), pixel_size_nm=PIXEL_NM, settings=SETTINGS)
    early = data.table[data.table.frame < 30]
    with pytest.raises(InputError, match=f"the table has frame {early.frame.max()} but"):
        build_fusion(movie[:20], frame_table(early), pixel_size_nm=PIXEL_NM, settings=SETTINGS)
