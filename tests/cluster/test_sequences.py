"""Tile sequences: the overlap graph, its numbering, and assigning localizations."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from smlmscale.cluster.sequences import (DUPLICATE, OUTSIDE, SEQUENCE_COLUMNS,
                                         assign_sequences, sequence_summary, tile_sequences)
from smlmscale.errors import InputError

SIZE = 10


def rois(*rows, size=SIZE):
    """An ROI list from ``(roi, section, x, y)`` rows."""
    return pd.DataFrame(rows, columns=["roi", "section", "x", "y"]).assign(size=size)


def groups(sequences):
    """The sequences as a list of roi-id lists, in sequence order (rois by section, id)."""
    return [list(g["roi"]) for _, g in sequences.groupby("sequence", sort=True)]


def brute_force(table, min_overlap_px=1):
    """O(n^2) reference: union-find over all pairs, numbered by (section, roi) appearance."""
    t = table.sort_values(["section", "roi"], ignore_index=True)
    n = len(t)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    s, x, y, size = (t[c].to_numpy() for c in ("section", "x", "y", "size"))
    for i in range(n):
        for j in range(i + 1, n):
            gap = abs(int(s[i]) - int(s[j]))
            if gap > 1:
                continue
            wx = min(x[i] + size[i], x[j] + size[j]) - max(x[i], x[j])
            wy = min(y[i] + size[i], y[j] + size[j]) - max(y[i], y[j])
            least = 1 if gap == 0 else min_overlap_px
            if wx > 0 and wy > 0 and wx * wy >= least:
                parent[find(i)] = find(j)
    number, sequence = {}, []
    for i in range(n):
        sequence.append(number.setdefault(find(i), len(number)))
    t.insert(0, "sequence", sequence)
    return t.sort_values(["sequence", "section", "roi"], ignore_index=True)


def random_rois(n, *, n_sections, extent, size, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"roi": rng.permutation(n) + 100,
                         "section": rng.integers(0, n_sections, n),
                         "x": rng.integers(0, extent, n), "y": rng.integers(0, extent, n),
                         "size": size})


def test_straight_chain_over_four_sections():
    out = tile_sequences(rois((10, 0, 0, 0), (11, 1, 2, 1), (12, 2, 4, 3), (13, 3, 5, 5)))
    assert list(out.columns) == list(SEQUENCE_COLUMNS)
    assert all(out[c].dtype == np.int64 for c in out.columns)
    assert groups(out) == [[10, 11, 12, 13]]
    assert set(out["first_section"]) == {0} and set(out["last_section"]) == {3}
    assert set(out["n_tiles"]) == {4}


def test_split_and_merge_end_in_one_sequence():
    # 0 splits into 1 and 2 (side by side in section 1); both merge into 3 in section 2.
    split_merge = rois((0, 0, 5, 0), (1, 1, 0, 0), (2, 1, 10, 0), (3, 2, 5, 0))
    assert groups(tile_sequences(split_merge)) == [[0, 1, 2, 3]]
    # A merge alone: two separate tiles of section 0 both overlap one tile of section 1.
    merge = rois((0, 0, 0, 0), (1, 0, 12, 0), (2, 1, 6, 0))
    assert groups(tile_sequences(merge)) == [[0, 1, 2]]


def test_a_gap_ends_a_sequence():
    out = tile_sequences(rois((0, 0, 0, 0), (1, 1, 0, 0), (2, 3, 0, 0), (3, 4, 0, 0)))
    assert groups(out) == [[0, 1], [2, 3]]
    assert out["first_section"].tolist() == [0, 0, 3, 3]
    assert out["last_section"].tolist() == [1, 1, 4, 4]
    assert out["n_tiles"].tolist() == [2, 2, 2, 2]


def test_touching_edges_do_not_link():
    # x + size == x2 (side), y + size == y2 (below), and a corner touch.
    out = tile_sequences(rois((0, 0, 0, 0), (1, 1, SIZE, 0), (2, 1, 0, SIZE),
                              (3, 1, SIZE, SIZE), (4, 0, 30, 0), (5, 0, 30 + SIZE, 0)))
    assert groups(out) == [[0], [4], [5], [1], [2], [3]]
    # One pixel of overlap links.
    assert groups(tile_sequences(rois((0, 0, 0, 0), (1, 1, SIZE - 1, SIZE - 1)))) == [[0, 1]]


def test_min_overlap_px_applies_between_sections_only():
    pair = rois((0, 0, 0, 0), (1, 1, 7, 0))  # 3 x 10 = 30 px shared
    assert groups(tile_sequences(pair, min_overlap_px=30)) == [[0, 1]]
    assert groups(tile_sequences(pair, min_overlap_px=31)) == [[0], [1]]
    same_section = rois((0, 0, 0, 0), (1, 0, 9, 9))  # 1 px shared, same section
    assert groups(tile_sequences(same_section, min_overlap_px=50)) == [[0, 1]]


def test_same_section_overlaps_are_joined():
    # 1 and 2 overlap in section 1; only 1 overlaps 0 and only 2 overlaps 3.
    out = tile_sequences(rois((0, 0, 0, 0), (1, 1, 0, 0), (2, 1, 8, 0), (3, 2, 16, 0)))
    assert groups(out) == [[0, 1, 2, 3]]


def test_sections_must_be_consecutive():
    # Overlapping tiles two sections apart (nothing in section 1) are not linked.
    assert groups(tile_sequences(rois((0, 0, 0, 0), (1, 2, 0, 0)))) == [[0], [1]]


def test_numbering_by_first_section_then_smallest_roi():
    out = tile_sequences(rois((9, 1, 0, 0), (7, 1, 50, 50), (8, 0, 100, 100),
                              (3, 2, 0, 0), (1, 2, 200, 200)))
    # Sequence 0 starts in section 0; then section 1's roi 7 before roi 9 (with roi 3).
    assert groups(out) == [[8], [7], [9, 3], [1]]
    assert out["sequence"].tolist() == [0, 1, 2, 2, 3]
    assert out["section"].tolist() == [0, 1, 1, 2, 2]


def test_input_order_does_not_matter():
    table = random_rois(400, n_sections=6, extent=200, size=20, seed=3)
    shuffled = table.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(tile_sequences(table), tile_sequences(shuffled))


@pytest.mark.parametrize("min_overlap_px", [1, 50, 300])
def test_equals_brute_force_on_500_tiles(min_overlap_px):
    table = random_rois(500, n_sections=8, extent=300, size=24, seed=min_overlap_px)
    table["size"] = 24
    out = tile_sequences(table, min_overlap_px=min_overlap_px)
    expected = brute_force(table, min_overlap_px)
    pd.testing.assert_frame_equal(out[["sequence", "roi", "section", "x", "y", "size"]],
                                  expected[["sequence", "roi", "section", "x", "y", "size"]],
                                  check_dtype=False)
    assert out["sequence"].nunique() > 10 and (out["n_tiles"] > 2).any()


def test_ten_thousand_tiles_fast():
    table = random_rois(10_000, n_sections=40, extent=3000, size=64, seed=0)
    start = time.perf_counter()
    out = tile_sequences(table)
    assert time.perf_counter() - start < 2.0
    assert len(out) == 10_000 and out["sequence"].max() + 1 < 10_000
    assert (out.groupby("sequence")["n_tiles"].first()
            == out.groupby("sequence").size()).all()


def test_sequence_summary():
    out = tile_sequences(rois((5, 0, 0, 0), (2, 1, 0, 0), (4, 1, 8, 0), (9, 3, 0, 0)))
    summary = sequence_summary(out)
    assert list(summary.columns) == ["sequence", "first_section", "last_section", "n_tiles",
                                     "rois"]
    assert summary.drop(columns="rois").dtypes.eq(np.int64).all()
    assert summary.values.tolist() == [[0, 0, 1, 3, "5 2 4"], [1, 3, 3, 1, "9"]]


def test_bad_rois_and_min_overlap():
    with pytest.raises(InputError, match="no size column"):
        tile_sequences(pd.DataFrame({"roi": [0], "section": [0], "x": [0], "y": [0]}))
    with pytest.raises(InputError, match="more than once"):
        tile_sequences(rois((0, 0, 0, 0), (0, 1, 0, 0)))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="least tile overlap"):
            tile_sequences(rois((0, 0, 0, 0)), min_overlap_px=bad)
    with pytest.raises(InputError, match="no sequence column"):
        sequence_summary(pd.DataFrame({"roi": [0], "section": [0]}))


# --- assign_sequences -------------------------------------------------------------------

P = 10.0  # pixel size, nm


def points(xy, section=0, **columns):
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return pd.DataFrame({"x_nm": xy[:, 0], "y_nm": xy[:, 1], "z_nm": 0.0,
                         "section": section, **columns})


def test_assign_pixel_edges():
    seq = tile_sequences(rois((0, 0, 2, 3), (1, 1, 2, 3)))  # pixels [2, 12) x [3, 13)
    pts = points([(20.0, 30.0), (119.999, 129.999), (120.0, 50.0), (50.0, 130.0),
                  (19.999, 50.0), (50.0, 29.999), (50.0, 50.0), (-1.0, -1.0),
                  (np.nan, 50.0)],
                 section=[0, 1, 0, 0, 0, 0, 5, 0, 0])
    pts.index = pd.RangeIndex(100, 100 + len(pts))
    out = assign_sequences(pts, seq, pixel_size_nm=P)
    assert out.dtype == np.int64 and out.name == "sequence"
    assert out.index.equals(pts.index)
    assert out.tolist() == [0, 0, OUTSIDE, OUTSIDE, OUTSIDE, OUTSIDE, OUTSIDE, OUTSIDE,
                            OUTSIDE]


def test_assign_overlapping_tiles_with_and_without_roi():
    # Section 0: roi 5 spans pixels x [0, 10), roi 3 spans x [5, 15); another sequence apart.
    seq = tile_sequences(rois((5, 0, 0, 0), (3, 0, 5, 0), (8, 0, 40, 40)))
    assert groups(seq) == [[3, 5], [8]]
    xy = [(75.0, 5.0), (75.0, 5.0), (25.0, 5.0), (125.0, 5.0), (405.0, 405.0),
          (305.0, 305.0), (75.0, 5.0)]
    plain = assign_sequences(points(xy), seq, pixel_size_nm=P)
    assert plain.tolist() == [0, 0, 0, 0, 1, OUTSIDE, 0]
    tagged = points(xy, roi=[3, 5, 5, 3, 8, 8, 8])
    out = assign_sequences(tagged, seq, pixel_size_nm=P)
    # Pixel 7 is covered by 3 and 5: the copy from roi 3 (lowest id) is kept, 5's is not;
    # a point tagged with roi 8 inside tiles 3/5 is no point of 8's: also a duplicate.
    assert out.tolist() == [0, DUPLICATE, 0, 0, 1, OUTSIDE, DUPLICATE]


def test_assign_matches_a_per_point_loop():
    rng = np.random.default_rng(7)
    table = random_rois(300, n_sections=5, extent=200, size=16, seed=7)
    seq = tile_sequences(table)
    n = 2000
    background = pd.DataFrame({"x_nm": rng.uniform(-20, 2300, n),
                               "y_nm": rng.uniform(-20, 2300, n), "z_nm": 0.0,
                               "section": rng.integers(0, 7, n),
                               "roi": rng.choice(table["roi"].to_numpy(), n)})
    tile = table.iloc[rng.integers(0, len(table), n)]  # points predicted per ROI
    in_tiles = pd.DataFrame({"x_nm": (tile["x"] + rng.uniform(0, 16, n)).to_numpy() * P,
                             "y_nm": (tile["y"] + rng.uniform(0, 16, n)).to_numpy() * P,
                             "z_nm": 0.0, "section": tile["section"].to_numpy(),
                             "roi": tile["roi"].to_numpy()})
    pts = pd.concat([background, in_tiles], ignore_index=True)
    pts.loc[::3, "x_nm"] = np.round(pts.loc[::3, "x_nm"] / P) * P  # exact pixel edges
    for with_roi in (False, True):
        frame = pts if with_roi else pts.drop(columns="roi")
        got = assign_sequences(frame, seq, pixel_size_nm=P).to_numpy()
        t = seq.sort_values("roi")
        t_sec, t_x, t_y, t_size, t_roi, t_seq = (
            t[c].to_numpy() for c in ("section", "x", "y", "size", "roi", "sequence"))
        expected = []
        for x_nm, y_nm, section, roi in pts[["x_nm", "y_nm", "section", "roi"]].itertuples(
                index=False):
            px, py = np.floor(x_nm / P), np.floor(y_nm / P)
            cover = np.flatnonzero((t_sec == section) & (t_x <= px) & (px < t_x + t_size)
                                   & (t_y <= py) & (py < t_y + t_size))
            if not cover.size:
                expected.append(OUTSIDE)
            elif with_roi and t_roi[cover[0]] != roi:
                expected.append(DUPLICATE)
            else:
                expected.append(int(t_seq[cover[0]]))
        assert got.tolist() == expected
        assert (got >= 0).sum() > 1000 and (got == OUTSIDE).sum() > 1000
        assert (got == DUPLICATE).sum() > 100 if with_roi else (got >= OUTSIDE).all()


def test_assign_empty_and_absent_sections():
    seq = tile_sequences(rois((0, 0, 0, 0), (1, 9, 0, 0)))
    out = assign_sequences(points(np.empty((0, 2))), seq, pixel_size_nm=P)
    assert out.dtype == np.int64 and len(out) == 0
    # Section 9 of the ROI list has no points: no error.
    assert assign_sequences(points([(5.0, 5.0)]), seq, pixel_size_nm=P).tolist() == [0]


def test_assign_bad_input():
    seq = tile_sequences(rois((0, 0, 0, 0)))
    with pytest.raises(InputError, match="no section column"):
        assign_sequences(points([(1.0, 1.0)]).drop(columns="section"), seq, pixel_size_nm=P)
    with pytest.raises(InputError, match="no z_nm column"):
        assign_sequences(points([(1.0, 1.0)]).drop(columns="z_nm"), seq, pixel_size_nm=P)
    with pytest.raises(InputError, match="not an integer"):
        assign_sequences(points([(1.0, 1.0)], section=0.5), seq, pixel_size_nm=P)
    with pytest.raises(InputError, match="no sequence column"):
        assign_sequences(points([(1.0, 1.0)]), seq.drop(columns="sequence"), pixel_size_nm=P)
    for bad in (0, -1.0, float("nan"), "ten"):
        with pytest.raises(InputError, match="pixel size"):
            assign_sequences(points([(1.0, 1.0)]), seq, pixel_size_nm=bad)


def test_sequence_summary_of_nothing():
    empty = tile_sequences(rois((0, 0, 0, 0))).iloc[:0]
    summary = sequence_summary(empty)
    assert len(summary) == 0
    assert list(summary.columns) == ["sequence", "first_section", "last_section", "n_tiles",
                                     "rois"]


def test_far_apart_tiles_use_a_coarser_grid():
    # Tiny tiles far apart: the grid's cells grow beyond the tile size; same answer.
    rng = np.random.default_rng(5)
    corner = rng.choice([0, 10**6], (300, 2))
    table = pd.DataFrame({"roi": np.arange(300), "section": rng.integers(0, 6, 300),
                          "x": corner[:, 0] + rng.integers(0, 12, 300),
                          "y": corner[:, 1] + rng.integers(0, 12, 300), "size": 4})
    out = tile_sequences(table)
    pd.testing.assert_frame_equal(out[["sequence", "roi", "section", "x", "y", "size"]],
                                  brute_force(table)[["sequence", "roi", "section", "x", "y",
                                                      "size"]], check_dtype=False)
    pts = points(table[["x", "y"]].to_numpy() * P + 5.0, section=table["section"].to_numpy())
    got = assign_sequences(pts, out, pixel_size_nm=P)
    expected = out.set_index("roi")["sequence"].reindex(table["roi"]).to_numpy()
    assert got.tolist() == expected.tolist()
