"""Kernel: locnet output maps -> a localization table (candidates, sub-pixel positions, sigmas).

The network (:mod:`smlmscale.models.locnet`) predicts, for every camera pixel of every
frame, ``C_o`` channels in this order (:data:`OUTPUT_CHANNELS_2D`,
:data:`OUTPUT_CHANNELS_3D`)::

    2D: p, photons, dx, dy,    sigma_photons, sigma_x, sigma_y,          background
    3D: p, photons, dx, dy, z, sigma_photons, sigma_x, sigma_y, sigma_z, background

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

**Positions.** Pixel ``(i, j)`` covers ``x in [j, j + 1)``, ``y in [i, i + 1)`` px, so a
pixel's own estimate is ``x_px = j + 0.5 + dx``, ``y_px = i + 0.5 + dy`` (plus the tile's
origin) and ``x_nm = x_px * pixel_size_nm`` (the project's pixel-corner origin). A
candidate's lateral position and uncertainty combine these estimates over its window
(:func:`smlmscale.localize.locnet_mixture.window_mixture`: the precision-weighted mean of
the pixels that point at it, and the variance of their mixture about it), which keeps the
z-score of the error calibrated where close emitters make the pixels disagree.
``confidence = min(1, 3 x 3 sum)``; ``z_nm``, ``photons``, ``background`` and the other
uncertainties are the candidate pixel's own (sigmas in nm, ``px * pixel_size_nm``;
``sigma_z`` is already nm, ``sigma_photons`` photons).

**Tiles.** The candidate rules read pixels within 3 px of a window's maximum (its window,
and the windows of the maxima that may claim the same pixel), and a candidate's position
reads the candidates within 2 px of it (their maxima 1 px further), so a tile whose
output maps reach at least 7 px beyond the core it owns (``core``), and whose maps equal
the whole frame's there (a halo at least the receptive radius + 7), gives exactly the
whole frame's candidates of its core (a window's candidates belong to the tile owning its
maximum). Pass ``frame_shape`` when the
maps hold padding beyond the frame (a model that needs multiples of its pooling factor).

NumPy in, pandas out; vectorized over frames and pixels (no Python loop over pixels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from smlmscale.localize.locnet_mixture import window_mixture

#: Output channels of a 2D locnet, in order (the contract of the model and its loss).
OUTPUT_CHANNELS_2D = ("p", "photons", "dx", "dy", "sigma_photons", "sigma_x", "sigma_y",
                      "background")
#: Output channels of a 3D locnet, in order.
OUTPUT_CHANNELS_3D = ("p", "photons", "dx", "dy", "z", "sigma_photons", "sigma_x", "sigma_y",
                      "sigma_z", "background")

#: Most emitters one 3 x 3 window stands for.
MAX_PER_WINDOW = 3
#: Least ``p`` of a window's other pixel to be one of its extra candidates.
MIN_EXTRA_P = 0.15
#: Fraction of an emitter beyond ``n - 1`` that a window's sum must reach to stand for n.
SPLIT_AT = 0.4
#: The 8 neighbours of a pixel (row, col), in raster order.
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))

# Neighbour offsets (row, col): those before a pixel in raster order must be strictly
# smaller, those after it at most equal.
_BEFORE = ((-1, -1), (-1, 0), (-1, 1), (0, -1))
_AFTER = ((0, 1), (1, -1), (1, 0), (1, 1))


def output_channels(is_3d: bool) -> tuple[str, ...]:
    """The names of locnet's output channels in order."""
    return OUTPUT_CHANNELS_3D if is_3d else OUTPUT_CHANNELS_2D


def table_columns(is_3d: bool) -> tuple[str, ...]:
    """The columns of :func:`locnet_candidates`' table, in order."""
    return ("frame", "x_nm", "y_nm", *(("z_nm",) if is_3d else ()), "photons", "background",
            "uncertainty_x_nm", "uncertainty_y_nm", *(("uncertainty_z_nm",) if is_3d else ()),
            "uncertainty_photons", "confidence")


def empty_table(is_3d: bool) -> pd.DataFrame:
    """A table with :func:`table_columns` and no rows (``frame`` int64, the rest float64)."""
    return pd.DataFrame({name: np.empty(0, np.int64 if name == "frame" else np.float64)
                         for name in table_columns(is_3d)})


def _core_box(core, origin: tuple[int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(r0, r1, c0, c1)`` of ``core`` in the maps' own pixels, clipped to the maps."""
    if core is None:
        return 0, shape[0], 0, shape[1]
    rows, cols = core
    box = []
    for span, o, n in ((rows, origin[0], shape[0]), (cols, origin[1], shape[1])):
        if isinstance(span, slice):
            span = (span.start, span.stop)
        lo, hi = (int(v) for v in span)
        box += [min(max(lo - o, 0), n), min(max(hi - o, 0), n)]
    return tuple(box)


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


def _grown(box: Sequence[int], shape: tuple[int, int], by: int) -> tuple[int, int, int, int]:
    r0, r1, c0, c1 = box
    return max(r0 - by, 0), min(r1 + by, shape[0]), max(c0 - by, 0), min(c1 + by, shape[1])


def window_candidates(p: np.ndarray, box: Sequence[int], threshold: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pixels of ``(T, H, W)`` maps whose window maximum lies in ``box``.

    Returns ``(t, i, j, confidence)`` (map pixels; confidence ``min(1, sum / n)``) sorted
    in raster order: the local maxima whose 3 x 3 sum passes ``threshold`` and the
    ``n - 1`` brightest other pixels of each window whose sum reaches ``n - 1 + SPLIT_AT``
    for ``n >= 2`` (see the module's docstring). Maxima up to 2 px beyond ``box`` are
    found too, so a pixel two windows claim goes to the same one in every tile; only
    ``box``'s windows return.
    """
    grown = _grown(box, p.shape[1:], 2)
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
    r0, r1, c0, c1 = box
    max_i, max_j = cand[0][1][owner], cand[0][2][owner]     # each candidate's maximum
    inside = (max_i >= r0) & (max_i < r1) & (max_j >= c0) & (max_j < c1)
    t, i, j, owner = t[inside], i[inside], j[inside], owner[inside]
    order = np.lexsort((j, i, t))
    t, i, j, owner = t[order], i[order], j[order], owner[order]
    return t, i, j, np.minimum(total[owner] / n[owner], 1.0)


def locnet_candidates(outputs: np.ndarray, *, first_frame: int, pixel_size_nm: float,
                      threshold: float = 0.3, is_3d: bool,
                      origin_px: tuple[int, int] = (0, 0),
                      core: tuple | None = None,
                      frame_shape: tuple[int, int] | None = None) -> pd.DataFrame:
    """The localizations of a block of locnet output maps.

    Parameters
    ----------
    outputs : numpy.ndarray
        ``(T, H, W, C_o)`` model output, channels as :func:`output_channels` (8 in 2D,
        10 in 3D); ``(H, W, C_o)`` is one frame.
    first_frame : int
        Movie index of ``outputs[0]``: ``frame = first_frame + t``.
    pixel_size_nm : float
        Camera pixel size, nm.
    threshold : float, optional
        Least sum of ``p`` over a candidate's 3 x 3 neighbourhood (expected emitters).
    is_3d : bool
        Whether the maps have the 3D channels (``z``, ``sigma_z``).
    origin_px : tuple of int, optional
        ``(row, col)`` of the maps' top-left pixel in the frame, px: a tile cut out of a
        larger frame.
    core : tuple, optional
        ``(rows, cols)``, each a ``slice`` or ``(start, stop)`` in frame pixels (the
        coordinates of ``origin_px``): return only candidates whose pixel lies in it (the
        tile's own part; the 3 x 3 rule still reads the halo). Default: every pixel.
    frame_shape : tuple of int, optional
        ``(H, W)`` of the whole frame, px: map pixels beyond it (padding) are ignored.

    Returns
    -------
    pandas.DataFrame
        Columns :func:`table_columns` (``frame`` int64, the rest float64): ``x_nm``,
        ``y_nm`` (the window mixture's position, nm), ``z_nm`` (nm), ``photons``,
        ``background`` (the map's units: photons per pixel, or input units),
        ``uncertainty_x_nm``, ``uncertainty_y_nm`` (the mixture's, nm),
        ``uncertainty_z_nm`` (nm),
        ``uncertainty_photons`` (photons), ``confidence`` (``min(1, 3 x 3 sum)``); rows
        in raster order (frame, row, col).

    Raises
    ------
    ValueError
        For maps whose channels do not match ``is_3d``, or a non-positive pixel size.

    Examples
    --------
    >>> maps = np.zeros((1, 4, 4, 8), np.float32)
    >>> maps[0, 1, 2, :4] = [0.9, 1000.0, 0.25, -0.25]
    >>> row = locnet_candidates(maps, first_frame=5, pixel_size_nm=100.0, is_3d=False)
    >>> row[["frame", "x_nm", "y_nm", "photons"]].values.tolist()
    [[5.0, 275.0, 125.0, 1000.0]]
    """
    names = output_channels(is_3d)
    outputs = np.asarray(outputs)
    if outputs.ndim == 3:
        outputs = outputs[None]
    if outputs.ndim != 4 or outputs.shape[-1] != len(names):
        raise ValueError(f"locnet {'3D' if is_3d else '2D'} maps must have shape "
                         f"(T, H, W, {len(names)}), got {outputs.shape}")
    if not pixel_size_nm > 0:
        raise ValueError(f"pixel_size_nm must be positive, got {pixel_size_nm}")
    row0, col0 = (int(v) for v in origin_px)
    if frame_shape is not None:
        outputs = outputs[:, :max(int(frame_shape[0]) - row0, 0),
                          :max(int(frame_shape[1]) - col0, 0)]
    p = outputs[..., 0]
    if not np.issubdtype(p.dtype, np.floating):
        p = p.astype(np.float32)
    box = _core_box(core, (row0, col0), p.shape[1:])
    if box[0] == box[1] or box[2] == box[3] or not p.size:
        return empty_table(is_3d)
    t, i, j, total = window_candidates(p, box, threshold)
    x_px, y_px, sigma_x, sigma_y = _mixture(outputs, p, box, threshold, names, (t, i, j))
    values = outputs[t, i, j].astype(np.float64)
    channel = {name: values[:, k] for k, name in enumerate(names)}
    nm = float(pixel_size_nm)
    columns = {
        "frame": t.astype(np.int64) + int(first_frame),
        "x_nm": (col0 + x_px) * nm,
        "y_nm": (row0 + y_px) * nm,
        "z_nm": channel.get("z"),
        "photons": channel["photons"],
        "background": channel["background"],
        "uncertainty_x_nm": sigma_x * nm,
        "uncertainty_y_nm": sigma_y * nm,
        "uncertainty_z_nm": channel.get("sigma_z"),
        "uncertainty_photons": channel["sigma_photons"],
        "confidence": total,
    }
    return pd.DataFrame({name: columns[name] for name in table_columns(is_3d)})


def _mixture(outputs, p, box, threshold, names, cand):
    """:func:`window_mixture` of the candidates ``cand = (t, i, j)`` of ``box``.

    ``box``'s candidates lie up to 1 px beyond it (a window's extra pixels), their rivals
    for a window pixel up to 2 px further, and the rivals' window maxima 1 px further
    still: the candidates of ``box`` grown by 4 (all of them on a whole frame).
    """
    grown = _grown(box, p.shape[1:], 4)
    every = cand if grown == tuple(box) else window_candidates(p, grown, threshold)[:3]
    idx = {name: k for k, name in enumerate(names)}
    x, y, sx, sy = window_mixture(p, *(outputs[..., idx[n]] for n in
                                       ("dx", "dy", "sigma_x", "sigma_y")), *every[:3])
    if every is cand:
        return x, y, sx, sy
    shape = np.array(p.shape, dtype=np.int64)

    def key(t, i, j):
        return (t.astype(np.int64) * shape[1] + i) * shape[2] + j

    at = np.searchsorted(key(*every), key(*cand))      # both in raster order
    return x[at], y[at], sx[at], sy[at]


__all__ = ["MAX_PER_WINDOW", "MIN_EXTRA_P", "OUTPUT_CHANNELS_2D", "OUTPUT_CHANNELS_3D",
           "SPLIT_AT", "empty_table", "local_maxima", "locnet_candidates", "output_channels",
           "table_columns", "window_candidates", "window_sums"]
