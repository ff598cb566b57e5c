"""A locnet candidate's window mixture: hand cases and a pixel-loop reference."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.localize.locnet_windows import window_candidates
from smlmscale.localize.locnet_mixture import MIN_COMPONENT_P, window_mixture


def naive_mixture(p, dx, dy, sx, sy, cands):
    """Candidate by candidate and pixel by pixel: the module's rule written out."""
    _, h, w = p.shape
    centre = {c: (c[2] + 0.5 + dx[c], c[1] + 0.5 + dy[c]) for c in cands}
    members = {c: [] for c in cands}
    for t, i, j in cands:
        for r in range(i - 1, i + 2):
            for c in range(j - 1, j + 2):
                if not (0 <= r < h and 0 <= c < w):
                    continue
                pix = (t, r, c)
                if pix in centre:                  # a candidate's own pixel is its own
                    if pix == (t, i, j):
                        members[pix].append(pix)
                    continue
                if p[pix] < MIN_COMPONENT_P:
                    continue
                mu = (c + 0.5 + dx[pix], r + 0.5 + dy[pix])
                rivals = [k for k in cands if k[0] == t and abs(k[1] - r) <= 1
                          and abs(k[2] - c) <= 1]
                best = min(rivals, key=lambda k: ((mu[0] - centre[k][0]) ** 2
                                                  + (mu[1] - centre[k][1]) ** 2, k))
                if best == (t, i, j):
                    members[(t, i, j)].append(pix)
    out = []
    for cand in cands:
        row = []
        for off, sig, axis in ((dx, sx, 2), (dy, sy, 1)):       # x: column, y: row
            mus = [pix[axis] + 0.5 + off[pix] for pix in members[cand]]
            ws = [float(p[pix]) for pix in members[cand]]
            vs = [float(sig[pix]) ** 2 for pix in members[cand]]
            mean = sum(wk * m / v for wk, m, v in zip(ws, mus, vs)) / sum(
                wk / v for wk, v in zip(ws, vs))
            var = sum(wk * (v + (m - mean) ** 2) for wk, m, v in zip(ws, mus, vs)) / sum(ws)
            row += [mean, var ** 0.5]
        out.append(row)
    return np.array(out)


def test_agreeing_pixels_keep_the_best_estimate():
    p = np.zeros((1, 5, 5)); dx = np.zeros_like(p); dy = np.zeros_like(p)
    s = np.full_like(p, 0.1)
    p[0, 2, 2], p[0, 2, 3] = 0.7, 0.3
    dx[0, 2, 2], dx[0, 2, 3] = 0.2, -0.8              # both point at x = 2.7
    x, y, sx, sy = window_mixture(p, dx, dy, s, s, [0], [2], [2])
    assert x[0] == pytest.approx(2.7) and y[0] == pytest.approx(2.5)
    assert sx[0] == pytest.approx(0.1) and sy[0] == pytest.approx(0.1)


def test_disagreeing_pixels_widen_the_uncertainty():
    p = np.zeros((1, 5, 5)); dx = np.zeros_like(p); dy = np.zeros_like(p)
    s = np.full_like(p, 0.1)
    p[0, 2, 2], p[0, 2, 3] = 0.5, 0.5                  # a hedge: they point 1 px apart
    x, _, sx, sy = window_mixture(p, dx, dy, s, s, [0], [2], [2])
    assert x[0] == pytest.approx(3.0)
    assert sx[0] == pytest.approx(np.sqrt(0.01 + 0.25))
    assert sy[0] == pytest.approx(0.1)
    s[0, 2, 3] = 0.3                                    # the precise pixel weighs more
    x, _, _, _ = window_mixture(p, dx, dy, s, s, [0], [2], [2])
    assert x[0] == pytest.approx((2.5 / 0.01 + 3.5 / 0.09) / (1 / 0.01 + 1 / 0.09))


def test_two_candidates_share_out_the_pixels_they_point_at():
    p = np.zeros((1, 6, 6)); dx = np.zeros_like(p); dy = np.zeros_like(p)
    s = np.full_like(p, 0.1)
    p[0, 2, 2], p[0, 2, 3] = 0.9, 0.8                  # two candidates, neighbours
    p[0, 3, 2], dx[0, 3, 2], dy[0, 3, 2] = 0.3, 0.9, -1.0   # points at the second
    p[0, 1, 1] = MIN_COMPONENT_P / 2                    # too faint to count
    x, y, sx, _ = window_mixture(p, dx, dy, s, s, [0, 0], [2, 2], [2, 3])
    second = (0.8 * 3.5 + 0.3 * 3.4) / 1.1
    np.testing.assert_allclose(x, [2.5, second])
    np.testing.assert_allclose(y, [2.5, 2.5])
    assert sx[0] == pytest.approx(0.1)
    spread = (0.8 * (3.5 - second) ** 2 + 0.3 * (3.4 - second) ** 2) / 1.1
    assert sx[1] == pytest.approx(np.sqrt(0.01 + spread))


def test_matches_the_pixel_loop():
    rng = np.random.default_rng(4)
    shape = (3, 17, 15)
    p = rng.uniform(0, 0.15, shape)
    for _ in range(25):
        f, r, c = rng.integers(0, shape[0]), rng.integers(0, shape[1]), rng.integers(0, shape[2])
        p[f, max(r - 1, 0):r + 2, max(c - 1, 0):c + 2] += rng.uniform(0.1, 0.6)
    dx, dy = rng.uniform(-1, 1, shape), rng.uniform(-1, 1, shape)
    sx, sy = rng.uniform(0.05, 0.3, shape), rng.uniform(0.05, 0.3, shape)
    t, i, j, _ = window_candidates(p, (0, shape[1], 0, shape[2]), 0.5)
    assert t.size > 10
    got = np.stack(window_mixture(p, dx, dy, sx, sy, t, i, j), axis=1)
    want = naive_mixture(p, dx, dy, sx, sy, list(zip(t.tolist(), i.tolist(), j.tolist())))
    np.testing.assert_allclose(got[:, [0, 2, 1, 3]], want, rtol=1e-10)


def test_no_candidates():
    maps = np.zeros((1, 4, 4))
    assert all(a.size == 0 for a in window_mixture(maps, maps, maps, maps, maps, [], [], []))
