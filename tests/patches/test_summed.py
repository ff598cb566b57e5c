"""summed generator: sums against an eager reference, union targets, determinism, TIFF export."""

from __future__ import annotations

from dataclasses import replace

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.patches.base import Runner
from smlmscale.kernels.normalize import normalize_patch
from smlmscale.patches.deepstorm import upsample_nearest
from smlmscale.patches.frames import FrameTable
from smlmscale.patches.plan import plan_block
from smlmscale.patches.summed import SummedSettings, sum_patches
from smlmscale.patches.summed_graph import build_summed, summed_raw
from smlmscale.patches.summed_export import export_summed_tiff
from tests.patches import PIXEL_NM, make_data

pytestmark = pytest.mark.timeout(120)

SETTINGS = SummedSettings(patch_size_px=12, upsampling=3, per_frame=4, min_emitters=2,
                          bin_size=4, camera_offset=90.0, target_sigma_px=0.0, seed=7)


@pytest.fixture()
def data(tmp_path):
    store, path, movie, table = make_data(tmp_path, per_frame=40)
    return tmp_path, store, path, movie, table


def _open(store, path, *, chunk=None):
    table = FrameTable.open(path, columns=["x_nm", "y_nm", "photons", "sigma_nm"])
    array = open_image_store(store).array
    movie = da.from_zarr(array, chunks=(chunk or array.chunks[0], *array.shape[1:]))
    return movie, table


def _raw(store, path, settings=SETTINGS, *, chunk=3, runner=None, movie_chunk=None):
    movie, table = _open(store, path, chunk=movie_chunk)
    return summed_raw(movie, table, pixel_size_nm=PIXEL_NM, settings=settings, chunk=chunk,
                      runner=runner or Runner())


def _reference(movie, table, settings):
    """Eager: plan the whole table at once, permute, bin, sum, unite (the method, step by step)."""
    rows = table[table["detectable"] == 1].sort_values("frame", kind="stable")
    frames, height, width = movie.shape
    size, bs = settings.patch_size_px, settings.bin_size
    patches, members = plan_block(
        rows.reset_index(drop=True), t0=0, t1=frames, height=height, width=width,
        pixel_size_nm=PIXEL_NM, size=size, per_frame=settings.per_frame,
        min_emitters=settings.min_emitters, seed=settings.seed, extra=("photons",))
    order = np.random.default_rng(settings.seed).permutation(len(patches))
    raws, locs = [], []
    for b in range(len(patches) // bs):
        total = np.zeros((size, size))
        for g in order[b * bs:(b + 1) * bs]:
            f, r0, c0 = patches.loc[g, ["frame", "row0", "col0"]]
            total += movie[f, r0:r0 + size, c0:c0 + size].astype(np.float64)
            mine = members[members["patch"] == g]
            locs.append(pd.DataFrame({"patch": b, "x": mine["x_px"] - c0,
                                      "y": mine["y_px"] - r0, "photons": mine["photons"]}))
        raws.append(total - (bs - 1) * settings.camera_offset)
    return np.array(raws), pd.concat(locs, ignore_index=True)


def _compute(tasks, runner=None):
    if runner is not None and runner.client is not None:
        return runner.client.gather(runner.client.compute(tasks))
    with dask.config.set(scheduler="sync"):
        return dask.compute(*tasks)


def test_sum_patches_subtracts_the_offset_bin_size_minus_one_times():
    patches = np.array([[[100, 130]], [[110, 100]], [[140, 100]]], np.uint16)
    np.testing.assert_array_equal(sum_patches(patches, 100.0), [[150.0, 130.0]])
    assert sum_patches(patches, 100.0).dtype == np.float32


@pytest.mark.parametrize("bad", [{"bin_size": 0}, {"weight": "area"}, {"n_summed": 0},
                                 {"camera_offset": float("nan")}, {"min_emitters": -1},
                                 {"seed": -1}, {"target_sigma_px": -1.0}])
def test_settings_are_checked(bad):
    with pytest.raises(InputError):
        SummedSettings(**bad)


def test_sums_and_union_match_an_eager_reference(data):
    _, store, path, movie, table = data
    raw = _raw(store, path)
    results = _compute(raw.tasks)
    sums = np.concatenate([r for r, _ in results])
    locs = pd.concat([loc for _, loc in results], ignore_index=True)
    expected, expected_locs = _reference(movie, table, SETTINGS)
    assert raw.stats["bins"] == len(expected) == len(sums) > 5
    assert raw.sizes == [3] * (len(expected) // 3) + ([len(expected) % 3] if len(expected) % 3
                                                     else [])
    np.testing.assert_array_equal(sums, expected.astype(np.float32))
    assert len(locs) == len(expected_locs)
    np.testing.assert_array_equal(locs["patch"], expected_locs["patch"])
    np.testing.assert_allclose(locs["x_px"] - locs["col0"], expected_locs["x"], atol=1e-9)
    np.testing.assert_allclose(locs["y_px"] - locs["row0"], expected_locs["y"], atol=1e-9)
    np.testing.assert_array_equal(locs["photons"], expected_locs["photons"])
    assert ((locs["x_px"] - locs["col0"]).between(0, 12, inclusive="left").all()
            and (locs["y_px"] - locs["row0"]).between(0, 12, inclusive="left").all())


def test_pairs_are_normalized_sums_and_one_spike_per_union_emitter(data):
    _, store, path, _, _ = data
    movie, table = _open(store, path)
    raw = summed_raw(movie, table, pixel_size_nm=PIXEL_NM, settings=SETTINGS, chunk=3,
                     runner=Runner())
    generated = build_summed(movie, table, pixel_size_nm=PIXEL_NM, settings=SETTINGS, chunk=3,
                             runner=Runner(), raw=raw)
    assert generated.input_shape == generated.target_shape == (36, 36, 1)
    assert generated.chunk == 3 and generated.sizes == raw.sizes
    assert generated.attrs["generator"] == "summed"
    assert generated.attrs["params"]["bin_size"] == 4
    assert generated.attrs["stats"]["bins"] == sum(raw.sizes)
    pairs, sums = _compute(generated.tasks), _compute(raw.tasks)
    for (inputs, targets), (patches, locs), first in zip(pairs, sums,
                                                          np.cumsum([0, *raw.sizes])):
        assert inputs.dtype == targets.dtype == np.float32
        for i, patch in enumerate(patches):
            np.testing.assert_array_equal(inputs[i, ..., 0],
                                          upsample_nearest(normalize_patch(patch), 3))
            n_union = int((locs["patch"] == first + i).sum())
            assert n_union >= 4 * SETTINGS.min_emitters
            assert targets[i].sum() == pytest.approx(n_union)  # bare spikes


def test_same_patches_on_a_cluster_and_with_another_chunking(data, client):
    folder, store, path, _, _ = data
    settings = replace(SETTINGS, target_sigma_px=1.0, n_summed=5, weight="photons")
    movie, table = _open(store, path)  # chunks of 5 frames
    a_raw = summed_raw(movie, table, pixel_size_nm=PIXEL_NM, settings=settings, chunk=2,
                       runner=Runner(client))
    a = build_summed(movie, table, pixel_size_nm=PIXEL_NM, settings=settings, chunk=2,
                     runner=Runner(client), raw=a_raw)
    with dask.config.set(scheduler="sync"):  # not the client: dask's synchronous scheduler
        b = build_summed(*_open(store, path, chunk=2), pixel_size_nm=PIXEL_NM,
                         settings=settings, chunk=2, runner=Runner())
    assert a.sizes == b.sizes == [2, 2, 1]
    got_a, got_b = _compute(a.tasks, Runner(client)), _compute(b.tasks)
    for (ia, ta), (ib, tb) in zip(got_a, got_b):
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(ta, tb)
    # the export streams the same tasks from the cluster, a sliding window of futures
    import tifffile

    exported = export_summed_tiff(a_raw, folder / "export", runner=Runner(client), in_flight=2)
    frames = tifffile.imread(exported.tiff)
    assert frames.shape == (5, 12, 12)
    np.testing.assert_array_equal(
        np.stack([upsample_nearest(normalize_patch(f), 3) for f in frames]),
        np.concatenate([i for i, _ in got_b])[..., 0])


def test_export_round_trip(data):
    import tifffile

    from smlmscale.io.tables import read_table

    folder, store, path, _, _ = data
    raw = _raw(store, path)
    result = export_summed_tiff(raw, folder / "export", in_flight=2)
    assert sorted(p.name for p in (folder / "export").iterdir()) == ["summed.csv", "summed.tif"]
    assert not (folder / "export.partial").exists()
    sums = _compute(raw.tasks)
    frames = tifffile.imread(result.tiff)
    expected = np.concatenate([r for r, _ in sums])
    assert frames.dtype == np.float32 and frames.shape == (sum(raw.sizes), 12, 12)
    np.testing.assert_array_equal(frames, expected)
    with tifffile.TiffFile(result.tiff) as tif:
        num, den = tif.pages.first.tags["XResolution"].value
        assert den / num * 1e3 == pytest.approx(PIXEL_NM)
    locs, _ = read_table(result.csv, format="deepstorm")
    union = pd.concat([loc for _, loc in sums], ignore_index=True)
    assert result.n_localizations == len(locs) == len(union)
    np.testing.assert_array_equal(locs["frame"], union["patch"])
    np.testing.assert_allclose(locs["x_nm"], (union["x_px"] - union["col0"]) * PIXEL_NM,
                               rtol=1e-12)
    np.testing.assert_allclose(locs["y_nm"], (union["y_px"] - union["row0"]) * PIXEL_NM,
                               rtol=1e-12)
    np.testing.assert_allclose(locs["photons"], union["photons"], rtol=1e-12)
    assert locs["x_nm"].between(0, 12 * PIXEL_NM).all()
    header = open(result.csv).readline().strip()
    assert header == ",frame,x [nm],y [nm],Photon #"


def test_export_refuses_an_existing_folder(data):
    folder, store, path, _, _ = data
    (folder / "export").mkdir()
    raw = _raw(store, path)
    with pytest.raises(InputError, match="exists"):
        export_summed_tiff(raw, folder / "export")
    export_summed_tiff(raw, folder / "export", overwrite=True)
    assert (folder / "export" / "summed.tif").exists()


def test_too_few_emitters_for_one_bin(data):
    _, store, path, _, _ = data
    settings = replace(SETTINGS, bin_size=1000)
    with pytest.raises(InputError, match="fewer than the bin size 1000"):
        _raw(store, path, settings)


def test_photon_weights_need_photons(tmp_path):
    store, path, _, _ = make_data(tmp_path)
    table = FrameTable.open(path, columns=["x_nm", "y_nm"])
    movie = da.from_zarr(open_image_store(store).array)
    settings = replace(SETTINGS, weight="photons")
    with pytest.raises(InputError, match="photons"):
        summed_raw(movie, table, pixel_size_nm=PIXEL_NM, settings=settings, chunk=3,
                   runner=Runner())
