"""counts generator: kernels against eager references, the fit, the graph, bad input."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import uniform_filter

from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import create_image_store, open_image_store
from smlmscale.io.rois import read_rois
from smlmscale.io.tables import TableMeta, write_table
from smlmscale.patches.base import Runner
from smlmscale.patches.counts import CountsSettings, density_estimate, section_counts, tile_counts
from smlmscale.patches.counts_fit import combine_moments, fit_moments, tile_moments
from smlmscale.patches.counts_graph import build_counts, select_rois
from smlmscale.patches.frames import FrameTable

pytestmark = pytest.mark.timeout(120)

PIXEL_NM = 100.0
SIZE = 10


def make_stack(folder, *, chunks=None, seed=1):
    """A 5-section 48x40 stack whose intensity grows with the localization density.

    Section 3 is zero everywhere; section 4 has no localization in the table.
    Returns ``(store path, table path, rois path, stack, table, rois)``.
    """
    rng = np.random.default_rng(seed)
    n_sections, height, width = 5, 48, 40
    rows = []
    for section in (0, 1, 2):
        n = 400
        centres = rng.uniform([8, 8], [40, 32], size=(4, 2))
        which = rng.integers(0, 4, n)
        yx = (centres[which] + rng.normal(0, 3, size=(n, 2))) * PIXEL_NM
        yx = np.clip(yx, 0, [height * PIXEL_NM - 1, width * PIXEL_NM - 1])
        rows.append(pd.DataFrame({"frame": section, "x_nm": yx[:, 1], "y_nm": yx[:, 0]}))
    table = pd.concat(rows, ignore_index=True)
    stack = np.zeros((n_sections, height, width), np.float32)
    for section in (0, 1, 2, 4):
        part = table[table.frame == section]
        counts, _, _ = np.histogram2d(part.y_nm, part.x_nm, bins=[
            np.arange(height + 1) * PIXEL_NM, np.arange(width + 1) * PIXEL_NM])
        if section == 4:  # intensity without localizations
            counts = rng.poisson(0.3, size=(height, width))
        image = 40 * counts ** 0.7 + rng.uniform(0, 5, size=counts.shape) * (counts > 0)
        stack[section] = np.minimum(image, 150)
    store = folder / "stack.zarr"
    create_image_store(store, shape=stack.shape, dtype=np.float32,
                       chunks=chunks or (1, height, width), pixel_size_nm=PIXEL_NM,
                       axes="zyx")[:] = stack
    locs = folder / "truth.parquet"
    write_table(table, locs, meta=TableMeta(pixel_size_nm=PIXEL_NM))
    n = 24
    rois = pd.DataFrame({"roi": np.arange(100, 100 + n), "section": np.arange(n) % 5,
                         "x": rng.integers(0, width - SIZE + 1, n),
                         "y": rng.integers(0, height - SIZE + 1, n), "size": SIZE})
    rois.loc[1, ["x", "y", "section"]] = [0, 0, 1]  # a corner of section 1: nothing there
    rois_path = folder / "rois.csv"
    rois.to_csv(rois_path, index=False)
    return store, locs, rois_path, stack, table, rois


def _generate(store, locs, rois_path, settings=CountsSettings(), *, chunk=5, runner=None,
              chunks=None):
    array = open_image_store(store).array
    movie = da.from_zarr(array, chunks=chunks or (1, *array.shape[1:]))
    table = FrameTable.open(locs, columns=["x_nm", "y_nm"])
    return build_counts(movie, table, rois=read_rois(rois_path), pixel_size_nm=PIXEL_NM,
                        settings=settings, chunk=chunk, runner=runner, rois_path=rois_path)


def _pairs(gen, scheduler="sync"):
    results = dask.compute(*gen.tasks, scheduler=scheduler)
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def _reference(stack, table, rois):
    """Eager tiles and histogram2d counts of each ROI, in list order."""
    tiles, counts = [], []
    for roi in rois.itertuples():
        tiles.append(stack[roi.section, roi.y:roi.y + roi.size, roi.x:roi.x + roi.size])
        part = table[table.frame == roi.section]
        edges_y = np.arange(roi.y, roi.y + roi.size + 1) * PIXEL_NM
        edges_x = np.arange(roi.x, roi.x + roi.size + 1) * PIXEL_NM
        counts.append(np.histogram2d(part.y_nm, part.x_nm, bins=[edges_y, edges_x])[0])
    return np.array(tiles, np.float64), np.array(counts)


def _nn(image, n=3):
    return uniform_filter(np.asarray(image, np.float64), size=n, mode="nearest")


def test_tile_counts_match_histogram2d():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 3000, 500), rng.uniform(0, 2500, 500)
    counts = tile_counts(x, y, x0=7, y0=4, size=12, pixel_size_nm=PIXEL_NM)
    ref = np.histogram2d(y, x, bins=[np.arange(4, 17) * PIXEL_NM, np.arange(7, 20) * PIXEL_NM])[0]
    assert counts.dtype == np.float32 and counts.shape == (12, 12)
    np.testing.assert_array_equal(counts, ref)
    inside = (x >= 700) & (x < 1900) & (y >= 400) & (y < 1600)
    assert counts.sum() == inside.sum()


def test_fit_from_moments_equals_polyfit_across_scales():
    rng = np.random.default_rng(2)
    tiles, densities = [], []
    for scale in (0.01, 1.0, 300.0, 5e4):  # tiles of very different brightness
        tile = rng.gamma(2.0, scale, size=(9, 9)) * (rng.random((9, 9)) > 0.2)
        tiles.append(tile)
        densities.append(rng.poisson(tile / scale * 2).astype(float))
    for degree in (1, 3, 5):
        moments = [tile_moments(t, d, degree=degree, nn_size=3) for t, d in zip(tiles, densities)]
        coefficients, pixels = fit_moments(moments, degree=degree)
        intensity = np.concatenate([_nn(t)[t > 0] for t in tiles])
        density = np.concatenate([_nn(d)[t > 0] for t, d in zip(tiles, densities)])
        assert pixels == intensity.size
        expected = np.polyval(np.polyfit(intensity, density, degree), intensity)
        got = np.polyval(coefficients, intensity)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())
        # sums of sums (per section, then on the driver) give the same fit
        grouped = [combine_moments(moments[:1], degree=degree),
                   combine_moments(moments[1:], degree=degree)]
        again, _ = fit_moments(grouped, degree=degree)
        np.testing.assert_allclose(np.polyval(again, intensity), got, rtol=1e-9,
                                   atol=1e-12 * np.abs(got).max())


def test_section_counts_equal_tile_counts():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 2000, 300), rng.uniform(0, 2000, 300)
    xs, ys = [0, 5, 11, 5], [3, 0, 9, 3]
    many = section_counts(x, y, xs=xs, ys=ys, size=9, pixel_size_nm=PIXEL_NM)
    for k, (x0, y0) in enumerate(zip(xs, ys)):
        np.testing.assert_array_equal(
            many[k], tile_counts(x, y, x0=x0, y0=y0, size=9, pixel_size_nm=PIXEL_NM))
    assert many.sum() > 0


def test_fit_needs_enough_pixels():
    tile = np.zeros((5, 5))
    tile[2, 2:4] = [1.0, 2.0]
    moments = tile_moments(tile, tile, degree=3, nn_size=1)
    assert moments[1] == 2
    with pytest.raises(InputError, match="only 2 pixels"):
        fit_moments([moments], degree=3)
    assert not tile_moments(np.zeros((4, 4)), np.ones((4, 4)), degree=2, nn_size=3).any()
    flat = np.ones((6, 6))
    with pytest.raises(InputError, match="distinct intensities"):
        fit_moments([tile_moments(flat, flat, degree=2, nn_size=3)], degree=2)


def test_pairs_match_the_eager_method(tmp_path):
    store, locs, rois_path, stack, table, rois = make_stack(tmp_path)
    gen = _generate(store, locs, rois_path)
    inputs, targets = _pairs(gen)
    tiles, counts = _reference(stack, table, rois)
    empty = ~tiles.reshape(len(tiles), -1).any(axis=1)
    assert empty.sum() >= 5  # section 3 and the corner of section 1
    tiles, counts, kept = tiles[~empty], counts[~empty], rois[~empty]
    assert gen.sizes == [5] * (len(kept) // 5) + ([len(kept) % 5] if len(kept) % 5 else [])
    assert gen.chunk == 5 and len(gen.tasks) == len(gen.sizes)
    assert gen.input_shape == (SIZE, SIZE, 2) and gen.target_shape == (SIZE, SIZE, 1)
    assert inputs.shape == (len(kept), SIZE, SIZE, 2) and inputs.dtype == np.float32
    assert targets.dtype == np.float32
    # targets: counts per pixel; they sum to the localizations inside each tile
    np.testing.assert_array_equal(targets[..., 0], counts)
    for k, roi in enumerate(kept.itertuples()):
        part = table[table.frame == roi.section]
        inside = ((part.x_nm >= roi.x * PIXEL_NM) & (part.x_nm < (roi.x + SIZE) * PIXEL_NM)
                  & (part.y_nm >= roi.y * PIXEL_NM) & (part.y_nm < (roi.y + SIZE) * PIXEL_NM))
        assert targets[k].sum() == inside.sum()
    # the fit: polyfit of pooled nn-averaged pixels with intensity > 0
    intensity = np.concatenate([_nn(t)[t > 0] for t in tiles])
    density = np.concatenate([_nn(c)[t > 0] for t, c in zip(tiles, counts)])
    estimate = gen.attrs["estimate"]
    assert estimate["pixels"] == intensity.size and estimate["degree"] == 3
    expected = np.polyval(np.polyfit(intensity, density, 3), intensity)
    got = np.polyval(estimate["coefficients"], intensity)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())
    # inputs: scaled tile and the estimate channel
    scale = tiles.max()
    assert gen.attrs["normalization"]["input_scale"] == estimate["input_scale"] == scale
    np.testing.assert_allclose(inputs[..., 0], (tiles / scale).astype(np.float32), rtol=1e-6)
    coefficients = np.array(estimate["coefficients"])
    eager = np.stack([np.clip(np.polyval(coefficients, _nn(t)), 0, None) for t in tiles])
    np.testing.assert_allclose(inputs[..., 1], eager.astype(np.float32), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(inputs[0, ..., 1], density_estimate(tiles[0], coefficients, 3))
    assert gen.attrs["rois"] == {"path": str(rois_path), "listed": 24, "selected": 24,
                                 "used": len(kept), "dropped_empty": int(empty.sum()),
                                 "size_px": SIZE}
    assert gen.attrs["generator"] == "counts" and gen.attrs["upsampling"] == 1


@pytest.mark.parametrize("chunks", [(1, 16, 16), (2, 48, 40), (3, 20, 13)])
def test_movie_chunks_and_task_sizes_do_not_change_the_pairs(tmp_path, chunks):
    store, locs, rois_path, *_ = make_stack(tmp_path, chunks=(1, 16, 16))
    a = _pairs(_generate(store, locs, rois_path, chunk=4, chunks=chunks))
    b = _pairs(_generate(store, locs, rois_path, chunk=64))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_selection_without_estimate_and_keeping_empty_tiles(tmp_path):
    store, locs, rois_path, stack, table, rois = make_stack(tmp_path)
    settings = CountsSettings(estimate=False, shuffle=True, per_section=3, drop_empty=False,
                              seed=9)
    gen = _generate(store, locs, rois_path, settings, chunk=4)
    selected = select_rois(rois, settings)
    assert len(selected) == 15 and (selected.groupby("section").size() == 3).all()
    assert selected["roi"].tolist() != sorted(selected["roi"])
    inputs, targets = _pairs(gen)
    tiles, counts = _reference(stack, table, selected)
    assert gen.input_shape == (SIZE, SIZE, 1) and gen.attrs["estimate"] is None
    assert gen.attrs["rois"]["dropped_empty"] == 0 and gen.attrs["rois"]["used"] == 15
    np.testing.assert_array_equal(targets[..., 0], counts)
    np.testing.assert_allclose(inputs[..., 0], (tiles / tiles.max()).astype(np.float32),
                               rtol=1e-6)


def test_all_tiles_empty_gives_no_task(tmp_path):
    store, locs, rois_path, stack, table, rois = make_stack(tmp_path)
    rois[rois.section == 3].to_csv(rois_path, index=False)
    gen = _generate(store, locs, rois_path)
    assert gen.tasks == [] and gen.sizes == [] and gen.attrs["estimate"] is None
    assert gen.attrs["rois"]["dropped_empty"] == 5
    assert "zero everywhere" in gen.empty_reason


def test_builder_computes_only_through_the_runner(tmp_path):
    store, locs, rois_path, *_ = make_stack(tmp_path)

    class SyncRunner(Runner):
        calls = 0

        def compute(self, *objs):
            SyncRunner.calls += 1
            return dask.compute(*objs, scheduler="sync")

    def refuse(*args, **kwargs):
        raise AssertionError("the graph builder computed something")

    array = open_image_store(store).array
    movie = da.from_zarr(array, chunks=(1, *array.shape[1:]))
    table = FrameTable.open(locs, columns=["x_nm", "y_nm"])
    rois = read_rois(rois_path)
    with dask.config.set(scheduler=refuse):
        gen = build_counts(movie, table, rois=rois, pixel_size_nm=PIXEL_NM,
                           settings=CountsSettings(), chunk=0, runner=SyncRunner())
    assert SyncRunner.calls == 1
    assert gen.chunk > 0 and gen.sizes == [sum(gen.sizes)]


def test_distributed_equals_sync(tmp_path, client):
    store, locs, rois_path, *_ = make_stack(tmp_path)
    settings = CountsSettings(shuffle=True, seed=4)
    a = _generate(store, locs, rois_path, settings, chunk=3, runner=Runner(client))
    b = _generate(store, locs, rois_path, settings, chunk=3)
    assert a.attrs == b.attrs and a.sizes == b.sizes
    ra = client.gather(client.compute(a.tasks))
    rb = dask.compute(*b.tasks, scheduler="sync")
    for (ia, ta), (ib, tb) in zip(ra, rb):
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(ta, tb)


def test_simulated_section_stack(tmp_path):
    from smlmscale.simulate.sections import SectionSettings, simulate_sections

    settings = SectionSettings(n_sections=3, size_px=96, n_clusters=6, seed=5)
    out = simulate_sections(tmp_path / "sim.zarr", settings=settings)
    array = open_image_store(out["path"]).array
    gen = build_counts(da.from_zarr(array), FrameTable.open(out["truth_path"]),
                       rois=read_rois(out["rois_path"]), pixel_size_nm=settings.pixel_size_nm,
                       settings=CountsSettings(), chunk=8)
    inputs, targets = _pairs(gen)
    rois = read_rois(out["rois_path"])
    assert len(targets) == len(rois) == gen.attrs["rois"]["used"]
    # every tile holds all the localizations of its cluster in its section
    assert (targets.sum(axis=(1, 2, 3)) >= rois["n_localizations"].to_numpy()).all()
    assert inputs[..., 0].max() == 1.0 and (inputs[..., 1] >= 0).all()


@pytest.mark.parametrize("kwargs, words", [
    ({"degree": 0}, "degree must be at least 1"),
    ({"degree": 9}, "degree must be at most"),
    ({"degree": 2.5}, "degree must be an integer"),
    ({"nn_size": 4}, "nn-size must be odd"),
    ({"nn_size": 0}, "nn-size must be at least 1"),
    ({"per_section": 0}, "per-section must be at least 1"),
    ({"seed": -1}, "seed must be at least 0"),
    ({"estimate": "yes"}, "estimate must be true or false"),
])
def test_settings_are_validated(kwargs, words):
    with pytest.raises(InputError, match=words):
        CountsSettings(**kwargs)


@pytest.mark.parametrize("change, words", [
    ({"x": 35}, "ROI 100 (x 35, y"),
    ({"section": 5}, "ROI 100 is in section 5 but the stack has only 5 sections"),
    ({"size": 12}, "mixes tile sizes"),
])
def test_rois_that_do_not_fit_the_stack(tmp_path, change, words):
    store, locs, rois_path, stack, table, rois = make_stack(tmp_path)
    for column, value in change.items():
        rois.loc[0, column] = value
    rois.to_csv(rois_path, index=False)
    with pytest.raises(InputError) as error:
        _generate(store, locs, rois_path)
    assert str(error.value).startswith(str(rois_path)) and words in str(error.value)


def test_bad_table_and_pixel_size(tmp_path):
    store, locs, rois_path, stack, table, rois = make_stack(tmp_path)
    movie = da.from_zarr(open_image_store(store).array)
    late = tmp_path / "late.parquet"
    write_table(table.assign(frame=table.frame + 3), late, meta=TableMeta(pixel_size_nm=PIXEL_NM))
    with pytest.raises(InputError, match="only 5 frames"):
        build_counts(movie, FrameTable.open(late), rois=rois, pixel_size_nm=PIXEL_NM,
                     settings=CountsSettings())
    with pytest.raises(InputError, match="pixel size must be positive"):
        build_counts(movie, FrameTable.open(locs), rois=rois, pixel_size_nm=0.0,
                     settings=CountsSettings())
    with pytest.raises(InputError, match="holds no ROI"):
        build_counts(movie, FrameTable.open(locs), rois=rois.iloc[:0], pixel_size_nm=PIXEL_NM,
                     settings=CountsSettings())


READS: list = []


def _count_read(block, block_info=None):
    if block_info is not None:  # None while dask infers the meta
        READS.append(block_info[0]["chunk-location"][0])
    return block


def test_each_section_is_read_once_per_pass(tmp_path):
    store, locs, rois_path, *_ = make_stack(tmp_path)
    array = open_image_store(store).array
    movie = da.from_zarr(array, chunks=(1, *array.shape[1:])).map_blocks(_count_read)
    table = FrameTable.open(locs, columns=["x_nm", "y_nm"])
    READS.clear()
    with dask.config.set(scheduler="sync"):
        gen = build_counts(movie, table, rois=read_rois(rois_path), pixel_size_nm=PIXEL_NM,
                           settings=CountsSettings(shuffle=True), chunk=3)
        assert sorted(READS) == [0, 1, 2, 3, 4]  # pass 1: one read per section
        READS.clear()
        dask.compute(*gen.tasks)
    assert len(gen.tasks) > 5 and sorted(READS) == [0, 1, 2, 4]  # section 3 was dropped


def test_nan_in_a_tile_is_refused(tmp_path):
    store, locs, rois_path, stack, table, rois = make_stack(tmp_path)
    array = open_image_store(store, mode="r+").array
    array[0, rois.y[0] + 2, rois.x[0] + 3] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        _generate(store, locs, rois_path)
