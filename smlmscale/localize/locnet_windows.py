"""Kernel: the candidate pixels of locnet's detection map (window maxima, close emitters,
duplicates), for :func:`smlmscale.localize.locnet.locnet_candidates`.

**Candidates.** A pixel is a candidate when its detection probability ``p`` is the local
maximum of its 3 x 3 neighbourhood and the sum of ``p`` over that neighbourhood is at
least ``threshold``. Ties are broken by raster order: a pixel must be *strictly* greater
than its four neighbours that come before it in raster order (up-left, up, up-right,
left) and at least equal to the four after it. This is a strict total order on
``(p, -raster index)``, so no two candidates are ever 8-neighbours: two equal
neighbouring maxima give one candidate, the first in raster order (an equal plateau
whose pixels are joined only through pixels later in raster order, such as a "V", can
give more than one). Pixels beyond the frame are neither candidates nor neighbours (the
sum counts them as 0).

**Close emitters.** The 3 x 3 sum of ``p`` is the expected number of emitters in the
window (the count term of the loss trains it so), so a local maximum whose sum reaches
``n - 1 + SPLIT_AT`` for ``n >= 2`` (at most :data:`MAX_PER_WINDOW`) stands for ``n``
emitters: the ``n - 1`` brightest other pixels of its window (those with ``p >=
MIN_EXTRA_P``) are candidates too, each at its own pixel and offsets. Two emitters 1-2 px
apart, whose probability the network puts in two neighbouring pixels, are then both found,
where the local-maximum rule alone would merge them. :data:`SPLIT_AT` is 0.4, not 0.5 (a
plain rounding), because the detection term of the loss makes ``p`` under-confident on
pixels it cannot tell apart, so the sum of a close pair's window tends to fall short of 2
(measured with the benchmark's model on movies of other seeds than its own, 0.5-6
emitters per um^2: 0.4 raises the Jaccard index by 0.001 / 0.006 / 0.018 at 0.5 / 2 / 6
per um^2; an extra pixel from p 0.15 rather than 0.25 adds up to 0.007 at 6 per um^2).
A pixel claimed by two windows goes to the first maximum in raster order; the ``n``
candidates of a window share its ``confidence = min(1, sum / n)``.

**Duplicates.** A pixel between two maxima counts in both windows' sums, so a window
beside another emitter can reach ``1 + SPLIT_AT`` on its neighbour's spill and take as its
extra candidate a pixel that points at that neighbour. An extra candidate whose own
estimate (pixel centre + offsets) lies within :data:`MERGE_PX` (0.3 px) of the estimate of
a maximum in one of its 8 neighbouring pixels is that maximum's emitter, not a second one,
and is dropped (its pixel then joins the maximum's mixture). Measured on the accuracy
benchmark's default model (float32 maps, 0.5 / 2 / 6 emitters per um^2): on the benchmark
movie at 0.5 per um^2, two such duplicates (one pair 90 nm apart, in two frames), matched
to the unresolved partner 150-160 nm away, were 20 % of the squared error; dropping them takes the lateral
RMSE there from 1.42x to 1.25x the CRLB (on three movies of other seeds 1.25 -> 1.24x,
1.26 -> 1.23x, 1.20 -> 1.19x) for a Jaccard index 0.990 -> 0.990 / 0.970 -> 0.969 /
0.900 -> 0.892 (0.2 px: 1.42x; 0.5 px: 1.24x but 0.873 at 6 per um^2). Two emitters
under 30 nm apart are far below what a 130 nm PSF resolves.

NumPy only, vectorized over frames and pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Most emitters one 3 x 3 window stands for.
MAX_PER_WINDOW = 3
#: Least ``p`` of a window's other pixel to be one of its extra candidates.
MIN_EXTRA_P = 0.15
#: Fraction of an emitter beyond ``n - 1`` that a window's sum must reach to stand for n.
SPLIT_AT = 0.4
#: An extra candidate within this distance of a neighbouring maximum's estimate is its
#: duplicate and is dropped, px (module docstring: **Duplicates**).
MERGE_PX = 0.3
#: The 8 neighbours of a pixel (row, col), in raster order.
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))

# Neighbour offsets (row, col): those before a pixel in raster order must be strictly
# smaller, those after it at most equal.
_BEFORE = ((-1, -1), (-1, 0), (-1, 1), (0, -1))
_AFTER = ((0, 1), (1, -1), (1, 0), (1, 1))


def local_maxima(p: np.ndarray, box: Sequence[int] | None = None) -> np.ndarray:
    """Pixels of ``(T, H, W)`` maps that are the local maximum of their 3 x 3 neighbourhood.

    Parameters
    ----------
    p : numpy.ndarray
        ``(T, H, W)`` detection probabilities (finite).
    box : sequence of int, optional
        ``(r0, r1, c0, c1)``: test only these rows and columns (the neighbours may lie
        outside); default the whole maps.

    Returns
    -------
    numpy.ndarray of bool
        ``(T, r1 - r0, c1 - c0)``: the maxima under the raster-order tie rule (see the
        module's docstring).

    Examples
    --------
    >>> local_maxima(np.array([[[0.0, 0.4, 0.4, 0.1]]])).astype(int).tolist()
    [[[0, 1, 0, 0]]]
    """
    t, h, w = p.shape
    r0, r1, c0, c1 = (0, h, 0, w) if box is None else box
    padded = np.full((t, h + 2, w + 2), -np.inf, dtype=p.dtype)
    padded[:, 1:-1, 1:-1] = p
    centre = padded[:, r0 + 1:r1 + 1, c0 + 1:c1 + 1]
    keep = np.ones(centre.shape, dtype=bool)
    for offsets, strict in ((_BEFORE, True), (_AFTER, False)):
        for dr, dc in offsets:
            near = padded[:, r0 + 1 + dr:r1 + 1 + dr, c0 + 1 + dc:c1 + 1 + dc]
            keep &= (centre > near) if strict else (centre >= near)
    return keep


def window_sums(p: np.ndarray, box: Sequence[int] | None = None) -> np.ndarray:
    """float64 sums of ``(T, H, W)`` maps over every pixel's 3 x 3 neighbourhood.

    Pixels beyond the maps count as 0; ``box = (r0, r1, c0, c1)`` limits the result to
    those rows and columns (``(T, r1 - r0, c1 - c0)``). Each sum is added in the same
    order wherever the box lies, so tiles reproduce the whole frame's sums exactly.
    """
    t, h, w = p.shape
    r0, r1, c0, c1 = (0, h, 0, w) if box is None else box
    padded = np.zeros((t, r1 - r0 + 2, c1 - c0 + 2), dtype=np.float64)
    lo_r, lo_c = max(r0 - 1, 0), max(c0 - 1, 0)
    part = p[:, lo_r:min(r1 + 1, h), lo_c:min(c1 + 1, w)]
    padded[:, lo_r - r0 + 1:lo_r - r0 + 1 + part.shape[1],
           lo_c - c0 + 1:lo_c - c0 + 1 + part.shape[2]] = part
    rows = padded[:, :, :-2] + padded[:, :, 1:-1] + padded[:, :, 2:]
    return rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]


def grown_box(box: Sequence[int], shape: tuple[int, int], by: int) -> tuple[int, int, int, int]:
    """``box = (r0, r1, c0, c1)`` grown by ``by`` px on every side, clipped to ``shape``."""
    r0, r1, c0, c1 = box
    return max(r0 - by, 0), min(r1 + by, shape[0]), max(c0 - by, 0), min(c1 + by, shape[1])


def window_candidates(p: np.ndarray, box: Sequence[int], threshold: float,
                      offsets: tuple[np.ndarray, np.ndarray] | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pixels of ``(T, H, W)`` maps whose window maximum lies in ``box``.

    Returns ``(t, i, j, confidence)`` (map pixels; confidence ``min(1, sum / n)``) sorted
    in raster order: the local maxima whose 3 x 3 sum passes ``threshold`` and the
    ``n - 1`` brightest other pixels of each window whose sum reaches ``n - 1 + SPLIT_AT``
    for ``n >= 2`` (see the module's docstring). Maxima up to 2 px beyond ``box`` are
    found too, so a pixel two windows claim goes to the same one in every tile; only
    ``box``'s windows return. With ``offsets`` (the ``(T, H, W)`` maps ``dx, dy``, px),
    extra candidates that duplicate a neighbouring maximum (:data:`MERGE_PX`) are dropped.
    """
    t, i, j, confidence, max_i, max_j = claimed_candidates(p, box, threshold, offsets)
    keep = in_box(max_i, max_j, box)
    return t[keep], i[keep], j[keep], confidence[keep]


def in_box(i: np.ndarray, j: np.ndarray, box: Sequence[int]) -> np.ndarray:
    """Whether pixels ``(i, j)`` lie in ``box = (r0, r1, c0, c1)`` (bool array)."""
    r0, r1, c0, c1 = box
    return (i >= r0) & (i < r1) & (j >= c0) & (j < c1)


def claimed_candidates(p: np.ndarray, box: Sequence[int], threshold: float,
                       offsets: tuple[np.ndarray, np.ndarray] | None = None
                       ) -> tuple[np.ndarray, ...]:
    """Every candidate :func:`window_candidates` finds around ``box``, with its maximum.

    Returns ``(t, i, j, confidence, max_i, max_j)`` in raster order: the candidates of the
    windows whose maximum lies in ``box`` grown by 2 px, ``(max_i, max_j)`` the pixel of
    each one's window maximum. Those whose maximum lies in ``box`` are exactly
    :func:`window_candidates`' (the others' rivals may lie beyond what was read), so one
    call serves any box inside ``box`` (:func:`in_box` on the maxima).
    """
    grown = grown_box(box, p.shape[1:], 2)
    sums = window_sums(p, grown)
    t, i, j = np.nonzero(local_maxima(p, grown) & (sums >= threshold))
    total = sums[t, i, j]
    i, j = i + grown[0], j + grown[2]
    n = np.clip(np.floor(total + (1 - SPLIT_AT)), 1, MAX_PER_WINDOW).astype(np.int64)
    owner = np.arange(t.size)
    cand = [(t, i, j, owner)]
    multi = np.nonzero(n >= 2)[0]
    if multi.size:
        h, w = p.shape[1:]
        padded = np.full((p.shape[0], h + 2, w + 2), -np.inf, dtype=np.float64)
        padded[:, 1:-1, 1:-1] = p
        dr = np.array([d[0] for d in _NEIGHBOURS])
        dc = np.array([d[1] for d in _NEIGHBOURS])
        tm, im, jm = t[multi, None], i[multi, None], j[multi, None]
        near = padded[tm, im + 1 + dr, jm + 1 + dc]                  # (m, 8)
        order = np.argsort(-near, axis=1, kind="stable")[:, :MAX_PER_WINDOW - 1]
        rank = np.arange(MAX_PER_WINDOW - 1)[None, :]
        take = (rank < n[multi, None] - 1) & (np.take_along_axis(near, order, 1) >= MIN_EXTRA_P)
        rows, k = np.nonzero(take)
        pick = order[rows, k]
        cand.append((t[multi][rows], i[multi][rows] + dr[pick], j[multi][rows] + dc[pick],
                     multi[rows]))
    t, i, j, owner = (np.concatenate(parts) for parts in zip(*cand))
    # one candidate per pixel: the first window in raster order claims it
    key = (t * p.shape[1] + i) * p.shape[2] + j
    first = np.lexsort((owner, key))
    keep = first[np.r_[True, key[first][1:] != key[first][:-1]][:first.size]]
    t, i, j, owner = t[keep], i[keep], j[keep], owner[keep]
    if offsets is not None and MERGE_PX > 0 and keep.size:
        extra = keep >= cand[0][0].size
        dup = _duplicates(p.shape, offsets, cand[0][:3], (t[extra], i[extra], j[extra]))
        gone = np.nonzero(extra)[0][dup]
        t, i, j, owner = (np.delete(a, gone) for a in (t, i, j, owner))
    order = np.lexsort((j, i, t))
    t, i, j, owner = t[order], i[order], j[order], owner[order]
    max_i, max_j = cand[0][1][owner], cand[0][2][owner]     # each candidate's maximum
    return t, i, j, np.minimum(total[owner] / n[owner], 1.0), max_i, max_j


def _duplicates(shape, offsets, maxima, extras) -> np.ndarray:
    """Whether each extra candidate's own estimate lies within :data:`MERGE_PX` of the
    own estimate of a window maximum in one of its 8 neighbouring pixels."""
    dx, dy = offsets
    te, ie, je = extras
    if not te.size:
        return np.zeros(0, dtype=bool)
    _, h, w = shape
    is_max = np.zeros(shape, dtype=bool)
    is_max[maxima] = True
    ex = je + 0.5 + dx[te, ie, je]
    ey = ie + 0.5 + dy[te, ie, je]
    dup = np.zeros(te.size, dtype=bool)
    for dr, dc in _NEIGHBOURS:
        r, c = ie + dr, je + dc
        ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        r, c = np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)
        mx = c + 0.5 + dx[te, r, c]
        my = r + 0.5 + dy[te, r, c]
        near = (mx - ex) ** 2 + (my - ey) ** 2 <= MERGE_PX ** 2
        dup |= ok & is_max[te, r, c] & near
    return dup


__all__ = ["MAX_PER_WINDOW", "MERGE_PX", "MIN_EXTRA_P", "SPLIT_AT", "claimed_candidates",
           "grown_box", "in_box", "local_maxima", "window_candidates", "window_sums"]
