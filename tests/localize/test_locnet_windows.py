"""locnet's candidate pixels: the tie rule, and extra pixels that duplicate a maximum."""

from __future__ import annotations

import numpy as np

from smlmscale.localize.locnet_windows import (claimed_candidates, in_box, local_maxima,
                                               window_candidates, window_sums)
from tests.localize.test_locnet import random_maps


def test_no_two_candidates_are_neighbours():
    maps = random_maps((4, 30, 30), is_3d=False, seed=3, levels=3, blobs=40)
    keep = local_maxima(maps[..., 0])
    t, i, j = np.nonzero(keep)
    cells = set(zip(t.tolist(), i.tolist(), j.tolist()))
    for f, r, c in cells:
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                assert (dr, dc) == (0, 0) or (f, r + dr, c + dc) not in cells


def test_offsets_drop_only_extra_pixels_that_duplicate_a_neighbouring_maximum():
    maps = random_maps((3, 25, 25), is_3d=False, seed=8, blobs=50)
    p, dx, dy = maps[..., 0], maps[..., 2], maps[..., 3]
    box = (0, 25, 0, 25)
    every = window_candidates(p, box, 0.3)
    kept = window_candidates(p, box, 0.3, (dx, dy))
    keys = set(zip(*(a.tolist() for a in every[:3])))
    left = set(zip(*(a.tolist() for a in kept[:3])))
    assert left < keys                               # fewer, and none new
    maxima = set(zip(*np.nonzero(local_maxima(p) & (window_sums(p) >= 0.3))))
    assert maxima <= left                            # every window maximum stays
    apart = maps.copy()
    apart[..., 2:4] = 0.0                            # every pixel points at its own centre
    assert len(window_candidates(p, box, 0.3, (apart[..., 2], apart[..., 3]))[0]) == len(keys)


def test_one_call_on_a_grown_box_serves_every_box_inside_it():
    maps = random_maps((3, 40, 40), is_3d=False, seed=5, levels=3, blobs=90)
    p, offsets = maps[..., 0], (maps[..., 2], maps[..., 3])
    grown = (4, 36, 2, 40)
    t, i, j, conf, max_i, max_j = claimed_candidates(p, grown, 0.3, offsets)
    assert np.all(np.abs(i - max_i) <= 1) and np.all(np.abs(j - max_j) <= 1)
    for box in ((4, 36, 2, 40), (8, 20, 6, 30), (10, 11, 10, 40), (30, 36, 30, 40)):
        own = in_box(max_i, max_j, box)
        got = (t[own], i[own], j[own], conf[own])
        want = window_candidates(p, box, 0.3, offsets)
        assert len(want[0]) == len(got[0]) > 0
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
