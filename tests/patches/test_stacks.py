"""frames kernels (stacks, targets, collisions) and the lazy graph against an eager loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.io.tables import TableMeta, write_table
from smlmscale.patches.frames import FrameTable
from smlmscale.patches.plan import frame_corners
from smlmscale.patches.stacks import (FramesSettings, intensity_levels, sample_frames,
                                      target_channels, window_frames)
from smlmscale.patches.stacks_targets import (BACKGROUND_PERCENTILE, kept_emitters,
                                              occupancy_stats, stack_pairs, target_maps)
from smlmscale.settings import Settings
from tests.helpers import raise_if_dask_computes
from tests.patches import PIXEL_NM, make_data

pytestmark = pytest.mark.timeout(120)


def eager_pairs(movie, table, settings, *, offset, scale, is_3d, pixel=PIXEL_NM):
    """The frames pairs of a whole movie, patch by patch, the plain way."""
    n_frames, height, width = movie.shape
    size, k, half = settings.patch_size_px, settings.context, settings.context // 2
    norm = (movie.astype(np.float64) - offset) / scale
    inputs, targets, collisions, moved = [], [], 0, 0
    for t in range(n_frames):
        rows = table[table.frame == t]
        if settings.min_emitters > 0 and rows.empty:
            continue
        x, y = rows.x_nm.to_numpy() / pixel, rows.y_nm.to_numpy() / pixel
        for r0, c0 in zip(*frame_corners(t, seed=settings.seed, per_frame=settings.per_frame,
                                         height=height, width=width, size=size)):
            inside = np.flatnonzero((x >= c0) & (x < c0 + size) & (y >= r0) & (y < r0 + size))
            if inside.size < settings.min_emitters:
                continue
            ids = [min(max(t + d, 0), n_frames - 1) for d in range(-half, k - half)]
            inputs.append(np.stack([norm[f, r0:r0 + size, c0:c0 + size] for f in ids], -1))
            maps = np.zeros((size, size, len(target_channels(is_3d))))
            # brightest first (table order among equals): own pixels, then the neighbours
            order = sorted(inside, key=lambda i: (-rows.photons.iloc[i], i))
            waiting = []
            for i in order:
                row, col = int(np.floor(y[i])) - r0, int(np.floor(x[i])) - c0
                if maps[row, col, 0]:
                    waiting.append(i)
                else:
                    _place(maps, row, col, rows, i, x, y, is_3d)
            for i in waiting:
                row, col = int(np.floor(y[i])) - r0, int(np.floor(x[i])) - c0
                dx, dy = x[i] - np.floor(x[i]) - 0.5, y[i] - np.floor(y[i]) - 0.5
                sx, sy = (1 if dx >= 0 else -1), (1 if dy >= 0 else -1)
                near = sorted([(0, sx), (sy, 0)],
                              key=lambda d: np.hypot(dx - d[1], dy - d[0])) + [(sy, sx)]
                free = [(row + a, col + b) for a, b in near if 0 <= row + a < size
                        and 0 <= col + b < size and not maps[row + a, col + b, 0]]
                if free:
                    moved += 1
                    _place(maps, *free[0], rows, i, x, y, is_3d, origin=(r0, c0))
                else:
                    collisions += 1
            window = settings.background_frames
            ids = [min(max(t + d, 0), n_frames - 1) for d in range(-(window // 2),
                                                                   window - window // 2)]
            stack = np.stack([norm[f, r0:r0 + size, c0:c0 + size] for f in ids], -1)
            maps[..., -1] = np.percentile(stack.astype(np.float32), BACKGROUND_PERCENTILE, -1)
            targets.append(maps)
    return np.array(inputs), np.array(targets), collisions, moved


def _place(maps, row, col, rows, i, x, y, is_3d, origin=None):
    """Emitter ``i`` in pixel ``(row, col)``, offsets from that pixel's centre."""
    r0, c0 = origin if origin is not None else (np.floor(y[i]) - row, np.floor(x[i]) - col)
    z = [rows.z_nm.iloc[i]] if is_3d else []
    maps[row, col, :-1] = [1, rows.photons.iloc[i], x[i] - (c0 + col + 0.5),
                           y[i] - (r0 + row + 0.5), *z]


def _computed(gen):
    import dask

    pairs = dask.compute(*gen.tasks)
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


def test_settings_and_shapes():
    settings = FramesSettings(patch_size_px=16, context=1)
    assert isinstance(settings, Settings) and settings.input_shape == (16, 16, 1)
    assert settings.target_shape(False) == (16, 16, 5) and settings.target_shape(True)[2] == 6
    assert FramesSettings.from_mapping(settings.to_mapping()) == settings
    assert settings.halo(estimate_background=False) == 0 and settings.halo(True) == 4
    with pytest.raises(Exception, match="--context must be one of 1, 3, got 2"):
        FramesSettings(context=2)
    with pytest.raises(Exception, match="--scale-adu must be greater than 0"):
        FramesSettings(scale_adu=0.0)


def test_edge_frames_repeat_the_nearest_frame():
    assert window_frames(np.array([0, 1, 4]), size=3, n_frames=5).tolist() == [
        [0, 0, 1], [0, 1, 2], [3, 4, 4]]
    assert window_frames(np.array([0]), size=1, n_frames=1).tolist() == [[0]]
    movie = np.arange(5, dtype=np.uint16)[:, None, None] * np.ones((5, 8, 8), np.uint16)
    corners = pd.DataFrame({"frame": [0, 4, 2], "row0": [0, 1, 2], "col0": [3, 0, 1]})
    members = pd.DataFrame({"patch": np.zeros(0, int), "x_px": [], "y_px": [],
                            "photons": []})
    inputs, targets = stack_pairs(movie, np.arange(5), corners, members, n_frames=5,
                                  settings=FramesSettings(patch_size_px=4), offset_adu=0.0,
                                  scale_adu=2.0, is_3d=False)
    assert inputs.shape == (3, 4, 4, 3) and inputs.dtype == targets.dtype == np.float32
    assert [inputs[i, 0, 0].tolist() for i in range(3)] == [[0, 0, 0.5], [1.5, 2, 2],
                                                           [0.5, 1, 1.5]]
    assert not targets[..., :-1].any()


@pytest.mark.parametrize("is_3d", [False, True])
def test_targets_of_a_hand_placed_emitter(is_3d):
    settings = FramesSettings(patch_size_px=10, context=1)
    images = np.full((1, 20, 30), 110.0)
    corners = pd.DataFrame({"frame": [0, 0], "row0": [2, 5], "col0": [1, 4]})
    # x = 5.3 px, y = 7.8 px: pixel (row 5, col 4) of patch 0, (row 2, col 1) of patch 1
    members = pd.DataFrame({"patch": [0, 1], "x_px": [5.3, 5.3], "y_px": [7.8, 7.8],
                            "photons": [1234.0, 1234.0], "z_nm": [-150.0, -150.0]})
    background = np.arange(600.0).reshape(20, 30)
    inputs, targets = stack_pairs(images, np.array([0]), corners, members, n_frames=1,
                                  settings=settings, offset_adu=100.0, scale_adu=5.0,
                                  is_3d=is_3d, background=background)
    np.testing.assert_allclose(inputs, 2.0)
    assert targets.shape == (2, 10, 10, 6 if is_3d else 5)
    for p, (row, col) in enumerate([(5, 4), (2, 1)]):
        assert np.flatnonzero(targets[p, ..., 0].ravel()).tolist() == [row * 10 + col]
        want = [1.0, 1234.0, -0.2, 0.3] + ([-150.0] if is_3d else [])
        np.testing.assert_allclose(targets[p, row, col, :-1], want, rtol=1e-6, atol=1e-6)
        assert np.count_nonzero(targets[p, ..., 1:-1]) == len(want) - 1
        r0, c0 = corners.row0[p], corners.col0[p]
        np.testing.assert_array_equal(targets[p, ..., -1], background[r0:r0 + 10, c0:c0 + 10])


def test_emitters_sharing_a_pixel_move_to_the_nearest_free_neighbour():
    corners = pd.DataFrame({"frame": [0], "row0": [0], "col0": [0]})
    # pixel (3, 2) holds four: 900 keeps it; 700 (dx 0, dy -0.4) goes up, its nearest;
    # 500 (dx -0.4, dy -0.3) left; 300 (dx 0.2, dy 0.4) down; (7, 0) holds two at the edge
    members = pd.DataFrame({"patch": [0] * 7,
                            "x_px": [2.1, 2.9, 2.5, 2.7, 6.0, 0.2, 0.3],
                            "y_px": [3.2, 3.7, 3.1, 3.9, 1.0, 7.6, 7.2],
                            "photons": [500.0, 900.0, 700.0, 300.0, 50.0, 80.0, 60.0]})
    maps, collisions = target_maps(members, corners, n=1, size_px=8, is_3d=False)
    np.testing.assert_allclose(maps[0, 3, 2, :4], [1, 900, 0.4, 0.2], rtol=1e-6)
    np.testing.assert_allclose(maps[0, 2, 2, :4], [1, 700, 0.0, 0.6], atol=1e-6)
    np.testing.assert_allclose(maps[0, 3, 1, :4], [1, 500, 0.6, -0.3], atol=1e-6)
    np.testing.assert_allclose(maps[0, 4, 2, :4], [1, 300, 0.2, -0.6], atol=1e-6)
    # (7, 0)'s 60 (dx -0.2, dy -0.3): left lies beyond the patch; up (6, 0) is nearer anyway
    np.testing.assert_allclose(maps[0, 6, 0, :4], [1, 60, -0.2, 0.7], atol=1e-6)
    assert collisions == 0 and maps[0, ..., 0].sum() == 7
    # every position is unchanged: pixel centre + offsets
    occ = np.argwhere(maps[0, ..., 0] > 0)
    got = sorted((c + 0.5 + maps[0, r, c, 2], r + 0.5 + maps[0, r, c, 3]) for r, c in occ)
    np.testing.assert_allclose(got, sorted(zip(members.x_px, members.y_px)), atol=1e-6)
    stats = occupancy_stats((corners, members), max_emitters=1, is_3d=False, size_px=8)
    assert stats == {"collisions": 0, "largest": 7, "over": 1, "photons_hi": 900.0,
                     "z_lo_nm": None, "z_hi_nm": None}
    assert kept_emitters(np.zeros(2, int), np.zeros(2, int), np.zeros(2, int),
                         np.array([3.0, 3.0])).tolist() == [True, False]


def test_an_emitter_with_no_free_neighbour_is_a_collision():
    corners = pd.DataFrame({"frame": [0], "row0": [0], "col0": [0]})
    # pixel (1, 1) holds the 9; the 5 (dx, dy > 0) could go right, down or diagonal: all held
    members = pd.DataFrame({"patch": [0] * 5, "x_px": [1.5, 1.8, 2.5, 1.5, 2.5],
                            "y_px": [1.5, 1.8, 1.5, 2.5, 2.5],
                            "photons": [9.0, 5.0, 1.0, 1.0, 1.0]})
    maps, collisions = target_maps(members, corners, n=1, size_px=4, is_3d=False)
    assert collisions == 1 and maps[0, ..., 0].sum() == 4 and maps[0, 1, 1, 1] == 9
    stats = occupancy_stats((corners, members), max_emitters=8, is_3d=False, size_px=4)
    assert stats["collisions"] == 1 and stats["largest"] == 4
    # the deepstorm3d rule (no size): every emitter behind a brighter one is a collision
    assert occupancy_stats((corners, members.iloc[:2]), max_emitters=8,
                           is_3d=False)["collisions"] == 1


def test_intensity_levels():
    sample = np.random.default_rng(0).integers(100, 200, (4, 30, 30)).astype(np.uint16)
    offset, scale = intensity_levels(sample)
    assert offset == np.percentile(sample, 1.0)
    assert scale == pytest.approx(np.percentile(sample, 99.9) - offset)
    assert intensity_levels(sample, offset_adu=5.0, scale_adu=2.0) == (5.0, 2.0)
    assert intensity_levels(np.full((1, 3, 3), 7.0)) == (7.0, 1.0)
    assert sample_frames(3).tolist() == [0, 1, 2] and len(sample_frames(1000)) == 32


@pytest.mark.parametrize("frames_per_chunk, context, z", [(1, 3, False), (2, 3, True),
                                                          (4, 1, False), (13, 3, False)])
def test_graph_equals_eager_reference(tmp_path, frames_per_chunk, context, z):
    import dask.array as da

    from smlmscale.patches.base import Runner
    from smlmscale.patches.stacks_graph import build_frames

    store, locs, movie, table = make_data(tmp_path, frames=13, size=24, per_frame=10, z=z)
    # close pairs, so that some pixels collide
    extra = table.iloc[::5].assign(x_nm=lambda t: t.x_nm + 10.0, photons=lambda t: t.photons / 2)
    table = pd.concat([table, extra]).sort_values("frame", kind="stable")
    table["x_nm"] = table.x_nm.clip(upper=24 * PIXEL_NM - 1)
    locs = tmp_path / "pairs.parquet"
    write_table(table, locs, meta=TableMeta(pixel_size_nm=PIXEL_NM))
    settings = FramesSettings(patch_size_px=8, context=context, per_frame=3, min_emitters=2,
                              seed=4, background_frames=4)
    lazy = da.from_array(movie, chunks=(frames_per_chunk, 24, 24))
    columns = ["x_nm", "y_nm", "photons"] + (["z_nm"] if z else [])
    gen = build_frames(lazy, FrameTable.open(locs, columns=columns), pixel_size_nm=PIXEL_NM,
                       settings=settings, chunk=5, runner=Runner())
    inputs, targets = _computed(gen)
    offset, scale = intensity_levels(movie[sample_frames(13)])
    detectable = table[table.detectable == 1].reset_index(drop=True)
    want_in, want_tg, collisions, moved = eager_pairs(movie, detectable, settings,
                                                      offset=offset, scale=scale, is_3d=z)
    assert len(inputs) == sum(gen.sizes) == len(want_in) > 5
    np.testing.assert_allclose(inputs, want_in, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(targets, want_tg, rtol=1e-5, atol=1e-5)
    attrs = gen.attrs
    assert attrs["collisions"] == collisions and moved > 0 and attrs["context"] == context
    assert attrs["normalization"] == {"mode": "affine", "offset_adu": offset, "scale_adu": scale,
                                      "photons_per_adu": None}
    assert attrs["background_units"] == "input" and attrs["is_3d"] is z
    assert attrs["max_emitters"] == int(want_tg[..., 0].sum(axis=(1, 2)).max())
    assert attrs["channels"] == list(target_channels(z))
    if z:
        used = [want_tg[..., 4][want_tg[..., 0] > 0]]
        assert attrs["z_range_nm"][0] <= used[0].min() and attrs["z_range_nm"][1] >= used[0].max()
    else:
        assert attrs["z_range_nm"] is None


def test_building_reads_only_the_sample_and_stays_lazy(tmp_path):
    import dask.array as da

    from smlmscale.patches.base import Runner
    from smlmscale.patches.stacks_graph import build_frames

    _, locs, movie, _ = make_data(tmp_path)
    reads = []

    def read(block):
        if block.size:  # not dask's probe on an empty meta array
            reads.append(len(block))
        return block

    lazy = da.from_array(movie, chunks=(5, 40, 40)).map_blocks(read, dtype=movie.dtype)
    table = FrameTable.open(locs, columns=["x_nm", "y_nm", "photons"])
    given = FramesSettings(patch_size_px=10, offset_adu=100.0, scale_adu=900.0)
    with raise_if_dask_computes(max_computes=3):  # the plan, its corners, their stats
        gen = build_frames(lazy, table, pixel_size_nm=PIXEL_NM, settings=given, chunk=4,
                           runner=Runner())
    assert not reads and gen.sizes and all(s == 4 for s in gen.sizes[:-1])
    assert gen.attrs["normalization"]["offset_adu"] == 100.0
    first = gen.tasks[0].compute()
    assert reads and len(first[0]) == gen.sizes[0]
    reads.clear()
    build_frames(lazy, table, pixel_size_nm=PIXEL_NM, settings=FramesSettings(patch_size_px=10),
                 chunk=4, runner=Runner())
    assert sum(reads) == 13  # the sample for the normalization: each chunk once
