"""Kernel: a locnet candidate's lateral position and uncertainty from its window's mixture.

The network's output maps define, for every pixel ``k``, a Gaussian component of an
emitter's position: weight ``p_k``, mean ``mu_k = pixel centre + (dx, dy)`` and standard
deviations ``(sigma_x, sigma_y)`` (the count loss of :mod:`smlmscale.models.losses`
trains every true emitter to be likely under this mixture). One emitter's probability
is usually spread over 2-4 pixels, each pointing at it with its own offset, and where
the network cannot tell one emitter from two close ones, some pixels point between them.

A candidate (:func:`smlmscale.localize.locnet_windows.window_candidates`) therefore does not
take its own pixel's values alone. Its **components** are the pixels of its 3 x 3
window with ``p >= MIN_COMPONENT_P``; a pixel in the windows of several candidates
belongs to the one its mean lies nearest to (the candidate's own pixel always to
itself), so two resolved emitters in neighbouring pixels keep apart. Per axis, with
``w_k = p_k`` over the candidate's components:

* position ``x = sum(w_k mu_k / sigma_k^2) / sum(w_k / sigma_k^2)`` (the components'
  precision-weighted mean);
* uncertainty ``sigma^2 = sum(w_k (sigma_k^2 + (mu_k - x)^2)) / sum(w_k)``: the
  variance of the components' mixture about that position (law of total variance).

Where the components agree (an isolated emitter) this is about the best single
component; where they disagree (a hedge between two close emitters) the position is their
compromise and the uncertainty grows to cover their spread, so the z-score of the error
stays calibrated in crowded fields. ``MIN_COMPONENT_P`` keeps out the background pixels
of the window, whose offsets are not trained, but it must stay low: the faint pixels
that point between close emitters are what widens a hedge's uncertainty. Measured with
the benchmark's 24-filter model on movies of other seeds than its test movies (0.5 / 2 /
6 emitters per um^2, z-score std x/y): 0.005 gives 0.97/0.92, 1.07/1.01, 1.15/1.06; 0.03
(the 16-filter model's value) 1.01/0.98, 1.17/1.12, 1.28/1.18; 0 gives 0.86/0.81 at 0.5
per um^2. The positions barely move (RMSE within 0.3 %). The default is 0.03 since the
full-resolution convolutions and the frames targets' collision rule (commit fd6530e) made
the network better calibrated at high density: on that model's maps (same tuning movies)
0.005 gives 0.81/0.86, 0.86/0.90, 0.99/1.02 and 0.03 gives 0.85/0.91, 0.94/0.97, 1.10/1.13,
the widest margin to 0.8-1.25.

A candidate's values read its window and the candidates within 2 px of it (how tiles
find them: :func:`smlmscale.localize.locnet.locnet_candidates`). NumPy only, vectorized.
"""

from __future__ import annotations

import numpy as np

#: Least ``p`` of a window pixel to be one of its candidate's mixture components.
MIN_COMPONENT_P = 0.03

_DI = np.repeat(np.arange(-1, 2), 3)
_DJ = np.tile(np.arange(-1, 2), 3)


def window_mixture(p: np.ndarray, dx: np.ndarray, dy: np.ndarray, sigma_x: np.ndarray,
                   sigma_y: np.ndarray, t: np.ndarray, i: np.ndarray, j: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions and uncertainties of candidates from their windows' mixture components.

    Parameters
    ----------
    p, dx, dy, sigma_x, sigma_y : numpy.ndarray
        ``(T, H, W)`` maps: detection probability, offsets from the pixel centre (px) and
        their predicted standard deviations (px, positive).
    t, i, j : numpy.ndarray
        Frame, row and column of each candidate (int; distinct pixels, see
        :func:`smlmscale.localize.locnet_windows.window_candidates`).

    Returns
    -------
    tuple of numpy.ndarray
        ``(x_px, y_px, sigma_x_px, sigma_y_px)``, float64, one value per candidate:
        position (pixel ``(i, j)`` covers ``x in [j, j + 1)``) and uncertainty, px.

    Examples
    --------
    >>> p = np.zeros((1, 3, 3)); p[0, 1, 1], p[0, 1, 2] = 0.8, 0.2
    >>> d = np.zeros((1, 3, 3)); d[0, 1, 2] = -1.0      # both pixels point at x = 1.5
    >>> s = np.full((1, 3, 3), 0.1)
    >>> x, y, sx, sy = window_mixture(p, d, np.zeros_like(d), s, s, *np.array([[0], [1], [1]]))
    >>> float(x[0]), float(sx[0])
    (1.5, 0.1)
    """
    t, i, j = (np.asarray(a, dtype=np.int64) for a in (t, i, j))
    n = t.size
    if not n:
        return tuple(np.zeros(0) for _ in range(4))
    _, h, w = p.shape
    cx = j + 0.5 + dx[t, i, j].astype(np.float64)
    cy = i + 0.5 + dy[t, i, j].astype(np.float64)
    # every candidate's 3 x 3 window: (n, 9) component pixels
    r, c = i[:, None] + _DI[None], j[:, None] + _DJ[None]
    tt = np.broadcast_to(t[:, None], r.shape)
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    rs, cs = np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)
    weight = p[tt, rs, cs].astype(np.float64)
    own = (_DI == 0) & (_DJ == 0)
    valid = inside & ((weight >= MIN_COMPONENT_P) | own[None])
    mx = cs + 0.5 + dx[tt, rs, cs].astype(np.float64)
    my = rs + 0.5 + dy[tt, rs, cs].astype(np.float64)
    dist = (mx - cx[:, None]) ** 2 + (my - cy[:, None]) ** 2
    dist = np.where(own[None], -1.0, dist)       # a candidate's own pixel is its own
    owner = np.broadcast_to(np.arange(n)[:, None], r.shape)
    key = (tt * h + rs) * w + cs
    sel = np.nonzero(valid.ravel())[0]
    key, dist, owner = key.ravel()[sel], dist.ravel()[sel], owner.ravel()[sel]
    # each component pixel goes to the candidate its mean lies nearest to (then the first)
    order = np.lexsort((owner, dist, key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    k = owner[first]
    flat = sel[first]
    wk = np.maximum(weight.ravel()[flat], 1e-12)      # a candidate of p = 0 keeps itself
    mux, muy = mx.ravel()[flat], my.ravel()[flat]
    rr, cc, tk = rs.ravel()[flat], cs.ravel()[flat], tt.ravel()[flat]
    vx = np.maximum(sigma_x[tk, rr, cc].astype(np.float64), 1e-6) ** 2
    vy = np.maximum(sigma_y[tk, rr, cc].astype(np.float64), 1e-6) ** 2

    def total(values):
        return np.bincount(k, weights=values, minlength=n)

    # relative to the candidate's own estimate, so agreeing components return it exactly
    x = cx + total(wk * (mux - cx[k]) / vx) / total(wk / vx)
    y = cy + total(wk * (muy - cy[k]) / vy) / total(wk / vy)
    mass = total(wk)
    sx = np.sqrt(total(wk * (vx + (mux - x[k]) ** 2)) / mass)
    sy = np.sqrt(total(wk * (vy + (muy - y[k]) ** 2)) / mass)
    return x, y, sx, sy


__all__ = ["MIN_COMPONENT_P", "window_mixture"]
