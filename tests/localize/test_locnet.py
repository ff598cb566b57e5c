"""locnet post-processing: candidates against a pixel loop, ties, positions, tiles = whole frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.localize.locnet import (empty_table, locnet_candidates, output_channels,
                                       table_columns)
from smlmscale.localize.locnet_windows import (MAX_PER_WINDOW, MERGE_PX, MIN_EXTRA_P, SPLIT_AT,
                                               local_maxima)
from smlmscale.localize.locnet_mixture import window_mixture


def naive_candidates(p, threshold, dx=None, dy=None):
    """Pixel by pixel: (t, i, j, confidence) of the maxima under the raster-order tie rule
    and of the extra pixels of windows that stand for several emitters, in raster order;
    with the offsets ``dx, dy``, less the extra pixels whose estimate lies within
    ``MERGE_PX`` of a neighbouring maximum's."""
    t_, h, w = p.shape
    claimed, out, maxima = set(), [], set()
    for t in range(t_):
        for i in range(h):
            for j in range(w):
                v = p[t, i, j]
                ok, total, near = True, 0.0, []
                for di in (-1, 0, 1):
                    for dj in (-1, 0, 1):
                        r, c = i + di, j + dj
                        if not (0 <= r < h and 0 <= c < w):
                            continue
                        total += float(p[t, r, c])
                        if (di, dj) == (0, 0):
                            continue
                        near.append((-float(p[t, r, c]), len(near), r, c))
                        before = di < 0 or (di == 0 and dj < 0)
                        ok &= v > p[t, r, c] if before else v >= p[t, r, c]
                if not (ok and total >= threshold):
                    continue
                maxima.add((t, i, j))
                n = int(min(max(np.floor(total + 1 - SPLIT_AT), 1), MAX_PER_WINDOW))
                picks = [(r, c) for q, _, r, c in sorted(near)[:n - 1] if -q >= MIN_EXTRA_P]
                for r, c in [(i, j), *picks]:
                    if (t, r, c) not in claimed:
                        claimed.add((t, r, c))
                        out.append((t, r, c, min(1.0, total / n)))
    if dx is None:
        return sorted(out)

    def estimate(t, r, c):
        return np.array([c + 0.5 + dx[t, r, c], r + 0.5 + dy[t, r, c]], np.float64)

    def duplicate(t, r, c):
        return (t, r, c) not in maxima and any(
            (t, r + a, c + b) in maxima
            and np.sum((estimate(t, r + a, c + b) - estimate(t, r, c)) ** 2) <= MERGE_PX ** 2
            for a in (-1, 0, 1) for b in (-1, 0, 1))

    return sorted(cand for cand in out if not duplicate(*cand[:3]))


def random_maps(shape, *, is_3d, seed, levels=None, blobs=0):
    """Output maps with channels in the contract's order; ``levels`` quantizes p (ties);
    the pixels of odd columns point near their left neighbour's estimate."""
    rng = np.random.default_rng(seed)
    t, h, w = shape
    maps = rng.uniform(0, 1, (t, h, w, len(output_channels(is_3d)))).astype(np.float32)
    p = rng.uniform(0, 0.2, (t, h, w))
    for _ in range(blobs):
        f, r, c = rng.integers(0, t), rng.integers(0, h), rng.integers(0, w)
        p[f, max(r - 1, 0):r + 2, max(c - 1, 0):c + 2] += rng.uniform(0.1, 0.5)
    if levels:
        p = np.round(p * levels) / levels
    maps[..., 0] = p
    maps[..., 2:4] -= 0.5
    # odd columns point about where their left neighbour does: duplicates to drop
    odd = maps[:, :, 1::2].shape[:3]
    maps[:, :, 1::2, 2] = maps[:, :, 0::2, 2][:, :, :odd[2]] - 1 + rng.normal(0, 0.2, odd)
    maps[:, :, 1::2, 3] = maps[:, :, 0::2, 3][:, :, :odd[2]] + rng.normal(0, 0.2, odd)
    return maps


@pytest.mark.parametrize("is_3d", [False, True])
@pytest.mark.parametrize("levels", [None, 5])
def test_matches_the_pixel_loop(is_3d, levels):
    maps = random_maps((3, 13, 11), is_3d=is_3d, seed=1, levels=levels, blobs=12)
    got = locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, threshold=0.3,
                            is_3d=is_3d)
    want = naive_candidates(maps[..., 0], 0.3, maps[..., 2], maps[..., 3])
    assert len(want) > 5
    assert len(naive_candidates(maps[..., 0], 0.3)) > len(want)     # the rule is exercised
    assert len(got) == len(want)
    names = output_channels(is_3d)
    t, i, j = (np.array([w[k] for w in want]) for k in range(3))
    ch = {name: maps[..., k] for k, name in enumerate(names)}
    x, y, sx, sy = window_mixture(ch["p"], ch["dx"], ch["dy"], ch["sigma_x"], ch["sigma_y"],
                                  t, i, j)
    for n, (row, (t, i, j, total)) in enumerate(zip(got.itertuples(index=False), want)):
        values = dict(zip(names, maps[t, i, j].astype(np.float64)))
        assert row.frame == t
        assert row.x_nm == pytest.approx(x[n] * 100)
        assert row.y_nm == pytest.approx(y[n] * 100)
        assert row.uncertainty_x_nm == pytest.approx(sx[n] * 100)
        assert row.uncertainty_y_nm == pytest.approx(sy[n] * 100)
        assert row.photons == pytest.approx(values["photons"])
        assert row.confidence == pytest.approx(total)


def test_columns_units_and_origin():
    maps = np.zeros((2, 6, 7, 10), np.float32)
    # p, photons, dx, dy, z, sigma_photons, sigma_x, sigma_y, sigma_z, background
    maps[1, 2, 3] = [0.4, 1500.0, 0.1, -0.2, -250.0, 40.0, 0.05, 0.08, 30.0, 12.0]
    # a neighbour pointing at the same place: the 3x3 sum 0.7 passes, it is no maximum
    maps[1, 2, 4, [0, 2, 3, 6, 7]] = [0.3, -0.9, -0.2, 0.05, 0.08]
    table = locnet_candidates(maps, first_frame=100, pixel_size_nm=110.0, is_3d=True,
                              origin_px=(10, 20))
    assert tuple(table.columns) == table_columns(True)
    assert table.dtypes["frame"] == np.int64
    assert all(table.dtypes[c] == np.float64 for c in table.columns if c != "frame")
    row = table.iloc[0]
    assert len(table) == 1 and row["frame"] == 101
    assert row["x_nm"] == pytest.approx((20 + 3 + 0.5 + 0.1) * 110)
    assert row["y_nm"] == pytest.approx((10 + 2 + 0.5 - 0.2) * 110)
    assert row["z_nm"] == pytest.approx(-250.0)
    assert row["photons"] == pytest.approx(1500.0)
    assert row["background"] == pytest.approx(12.0)
    assert row["uncertainty_x_nm"] == pytest.approx(0.05 * 110)
    assert row["uncertainty_y_nm"] == pytest.approx(0.08 * 110)
    assert row["uncertainty_z_nm"] == pytest.approx(30.0)
    assert row["uncertainty_photons"] == pytest.approx(40.0)
    assert row["confidence"] == pytest.approx(0.7)
    maps[1, 1:4, 2:5, 0] = 0.5      # the first maximum's window (rows 0-2) sums to 2.0
    assert locnet_candidates(maps, first_frame=0, pixel_size_nm=1.0,
                             is_3d=True)["confidence"].tolist() == [1.0, 1.0]
    assert tuple(locnet_candidates(maps[..., :8], first_frame=0, pixel_size_nm=1.0,
                                   is_3d=False).columns) == table_columns(False)


def test_ties_give_one_candidate_first_in_raster_order():
    p = np.zeros((1, 5, 6), np.float32)
    p[0, 1, 2] = p[0, 1, 3] = 0.6       # horizontal pair
    p[0, 3, 0] = p[0, 4, 1] = 0.6       # diagonal pair: (3, 0) comes first
    keep = local_maxima(p)
    # 0-valued pixels next to nothing larger earlier (e.g. the top-left corner) are maxima
    # too, but the threshold removes them.
    assert keep[0, 1, 2] and not keep[0, 1, 3]
    assert keep[0, 3, 0] and not keep[0, 4, 1]
    plateau = np.zeros((1, 6, 6), np.float32)
    plateau[0, 1:4, 1:5] = 0.1  # a flat 3 x 4 block: one window of sum 0.9
    plateau[0, 2, 2] = 0.2
    maps = np.zeros((1, 6, 6, 8), np.float32)
    maps[..., 0] = plateau
    table = locnet_candidates(maps, first_frame=0, pixel_size_nm=1.0, is_3d=False)
    assert table[["x_nm", "y_nm"]].values.tolist() == [[2.5, 2.5]]


def test_a_window_of_two_emitters_gives_two_candidates():
    maps = np.zeros((1, 7, 7, 8), np.float32)
    maps[0, 2, 2, :4] = [0.9, 1000.0, 0.3, 0.0]     # two emitters in neighbouring pixels
    maps[0, 2, 3, :4] = [0.7, 1500.0, -0.2, 0.1]
    maps[0, 3, 2, :4] = [0.2, 0.0, 0.3, -1.0]       # their spill, pointing at the first
    table = locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, is_3d=False)
    np.testing.assert_allclose(table[["x_nm", "y_nm", "photons"]].to_numpy(),
                               [[280.0, 250.0, 1000.0], [330.0, 260.0, 1500.0]], rtol=1e-6)
    np.testing.assert_allclose(table["confidence"], [0.9, 0.9])
    maps[0, 2, 3, 0] = 0.45                         # one emitter split over two pixels: sum 1.55
    maps[0, 3, 2, 0] = 0.0
    maps[0, 2, 2, 0] = 0.55
    one = locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, is_3d=False)
    # one candidate, at the p-weighted mean of what both pixels point at (equal sigmas)
    np.testing.assert_allclose(one[["x_nm", "y_nm"]].to_numpy(),
                               [[0.55 * 280.0 + 0.45 * 330.0, 0.55 * 250.0 + 0.45 * 260.0]],
                               rtol=1e-6)
    maps[0, 2, 3, 0] = 0.12                         # sum 1.44 but the other pixels are faint
    maps[0, 1, 1:4, 0] = 0.12
    maps[0, 3, 1:4, 0] = 0.12
    maps[0, 2, 1, 0] = 0.05
    assert 0.12 < MIN_EXTRA_P and 1.44 >= 1 + SPLIT_AT
    faint = locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, is_3d=False)
    assert len(faint) == 1
    maps[0, 2, 3, 0] = 0.12 + 2 * MIN_EXTRA_P       # now one is bright enough: two
    assert len(locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, is_3d=False)) == 2
    maps[0, 2, 3, 0], maps[0, 1, 1:3, 0] = 0.2, 0.0  # sum 1.28: short of 1 + SPLIT_AT: one
    assert len(locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, is_3d=False)) == 1


def test_an_extra_pixel_pointing_at_its_neighbouring_maximum_is_no_second_emitter():
    maps = np.zeros((1, 7, 7, 8), np.float32)
    maps[0, 2, 2, :4] = [0.9, 2000.0, 0.1, 0.0]      # a maximum and its window's brightest
    maps[0, 3, 3, :4] = [0.6, 1800.0, -0.4, -1.0]    # other pixel: sum 1.52 stands for two
    maps[0, 2, 3, 0] = 0.02
    two = locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, is_3d=False)
    assert len(two) == 2                             # (3, 3) points 0.5 px from (2, 2)
    assert MERGE_PX < 0.5
    maps[0, 3, 3, 2:4] = [-0.95, -0.85]              # now 0.15 px away: the same emitter
    one = locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, is_3d=False)
    assert len(one) == 1 and one.photons[0] == 2000.0
    # its pixel joins the maximum's mixture (both point at about x 2.6, y 2.5 px)
    assert one.x_nm[0] == pytest.approx((0.9 * 260 + 0.6 * 255) / 1.5, abs=1e-3)
    assert one.y_nm[0] == pytest.approx((0.9 * 250 + 0.6 * 265) / 1.5, abs=1e-3)


def tiled(maps, *, tile, halo, frame_shape=None, threshold=0.3, is_3d=False):
    """Candidates of tiles with cores of ``tile`` px and ``halo`` px of maps around them."""
    h, w = maps.shape[1:3] if frame_shape is None else frame_shape
    parts = []
    for r0 in range(0, h, tile):
        for c0 in range(0, w, tile):
            r1, c1 = min(r0 + tile, h), min(c0 + tile, w)
            wr, wc = max(r0 - halo, 0), max(c0 - halo, 0)
            window = maps[:, wr:r1 + halo, wc:c1 + halo]
            parts.append(locnet_candidates(window, first_frame=7, pixel_size_nm=100.0,
                                           threshold=threshold, is_3d=is_3d,
                                           origin_px=(wr, wc),
                                           core=(slice(r0, r1), (c0, c1)),
                                           frame_shape=frame_shape))
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values(["frame", "y_nm", "x_nm"], ignore_index=True)


@pytest.mark.parametrize("tile,halo", [(5, 7), (8, 7), (7, 8)])
@pytest.mark.parametrize("levels", [None, 4])
def test_tiles_equal_the_whole_frame(tile, halo, levels):
    maps = random_maps((3, 29, 23), is_3d=False, seed=tile + halo, levels=levels, blobs=60)
    whole = locnet_candidates(maps, first_frame=7, pixel_size_nm=100.0, is_3d=False)
    whole = whole.sort_values(["frame", "y_nm", "x_nm"], ignore_index=True)
    assert len(whole) > 20
    pd.testing.assert_frame_equal(tiled(maps, tile=tile, halo=halo), whole)
    maps[..., 2] = 0.0                           # no two pixels point at the same place
    assert len(locnet_candidates(maps, first_frame=7, pixel_size_nm=100.0,
                                 is_3d=False)) > len(whole)


def test_tiles_ignore_padding_beyond_the_frame():
    maps = random_maps((2, 24, 24), is_3d=True, seed=5, blobs=40)
    frame = (21, 19)
    padded = maps.copy()
    padded[:, frame[0]:, :, 0] = 1.0  # what a network may predict on zero padding
    padded[:, :, frame[1]:, 0] = 1.0
    whole = locnet_candidates(maps[:, :frame[0], :frame[1]], first_frame=7,
                              pixel_size_nm=100.0, is_3d=True)
    whole = whole.sort_values(["frame", "y_nm", "x_nm"], ignore_index=True)
    got = tiled(padded, tile=8, halo=7, frame_shape=frame, is_3d=True)
    pd.testing.assert_frame_equal(got, whole)


def test_empty_and_bad_input():
    maps = np.zeros((2, 8, 8, 8), np.float32)
    table = locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, is_3d=False)
    pd.testing.assert_frame_equal(table, empty_table(False))
    outside = locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, is_3d=False,
                                core=((20, 30), (0, 8)))
    assert outside.empty and tuple(outside.columns) == table_columns(False)
    one = locnet_candidates(np.zeros((8, 8, 8), np.float32), first_frame=0,
                            pixel_size_nm=100.0, is_3d=False)
    assert one.empty
    with pytest.raises(ValueError, match="10"):
        locnet_candidates(maps, first_frame=0, pixel_size_nm=100.0, is_3d=True)
    with pytest.raises(ValueError, match="pixel_size_nm"):
        locnet_candidates(maps, first_frame=0, pixel_size_nm=0.0, is_3d=False)
