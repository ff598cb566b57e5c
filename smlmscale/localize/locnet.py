"""Kernel: locnet output maps -> a localization table (candidates, sub-pixel positions, sigmas).

The network (:mod:`smlmscale.models.locnet`) predicts, for every camera pixel of every
frame, ``C_o`` channels in this order (:data:`OUTPUT_CHANNELS_2D`,
:data:`OUTPUT_CHANNELS_3D`)::

    2D: p, photons, dx, dy,    sigma_photons, sigma_x, sigma_y,          background
    3D: p, photons, dx, dy, z, sigma_photons, sigma_x, sigma_y, sigma_z, background

**Candidates** (:mod:`smlmscale.localize.locnet_windows`): the local maxima of ``p``
whose 3 x 3 sum passes ``threshold``, with extra candidates where a window's sum stands
for two or three emitters, less the extra pixels that duplicate a neighbouring maximum.

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


import numpy as np
import pandas as pd

from smlmscale.localize.locnet_mixture import window_mixture
from smlmscale.localize.locnet_windows import (MAX_PER_WINDOW, MERGE_PX, MIN_EXTRA_P, SPLIT_AT,
                                               claimed_candidates, grown_box, in_box,
                                               local_maxima, window_candidates, window_sums)

#: Output channels of a 2D locnet, in order (the contract of the model and its loss).
OUTPUT_CHANNELS_2D = ("p", "photons", "dx", "dy", "sigma_photons", "sigma_x", "sigma_y",
                      "background")
#: Output channels of a 3D locnet, in order.
OUTPUT_CHANNELS_3D = ("p", "photons", "dx", "dy", "z", "sigma_photons", "sigma_x", "sigma_y",
                      "sigma_z", "background")

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
    idx = {name: k for k, name in enumerate(names)}
    offsets = (outputs[..., idx["dx"]], outputs[..., idx["dy"]])
    (t, i, j, total), (x_px, y_px, sigma_x, sigma_y) = _candidates(outputs, p, box, threshold,
                                                                  names, offsets)
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


def _candidates(outputs, p, box, threshold, names, offsets):
    """The candidates ``(t, i, j, confidence)`` of ``box`` and their :func:`window_mixture`.

    ``box``'s candidates lie up to 1 px beyond it (a window's extra pixels), their rivals
    for a window pixel up to 2 px further, and the rivals' window maxima 1 px further
    still: the mixture reads the candidates of ``box`` grown by 4 (all of them on a whole
    frame), found in the same call as ``box``'s own.
    """
    grown = grown_box(box, p.shape[1:], 4)
    t, i, j, total, max_i, max_j = claimed_candidates(p, grown, threshold, offsets)
    every = in_box(max_i, max_j, grown)
    t, i, j, total, max_i, max_j = (a[every] for a in (t, i, j, total, max_i, max_j))
    idx = {name: k for k, name in enumerate(names)}
    x, y, sx, sy = window_mixture(p, *(outputs[..., idx[n]] for n in
                                       ("dx", "dy", "sigma_x", "sigma_y")), t, i, j)
    own = in_box(max_i, max_j, box)
    return (t[own], i[own], j[own], total[own]), (x[own], y[own], sx[own], sy[own])


__all__ = ["MAX_PER_WINDOW", "MERGE_PX", "MIN_EXTRA_P", "OUTPUT_CHANNELS_2D",
           "OUTPUT_CHANNELS_3D", "SPLIT_AT", "empty_table", "local_maxima", "locnet_candidates",
           "output_channels", "table_columns", "window_candidates", "window_sums"]
