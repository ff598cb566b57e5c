"""Predicted localization counts per pixel -> 3D points (seed 000's ``nn_pred_to_locs3d``).

A ``counts`` model predicts, for every pixel of an ROI tile of a serial section, how many
localizations it held (a real number). The conversion to a point cloud:

1. **Threshold.** Pixels predicting fewer than ``min_count`` localizations are zeroed: the
   network's softplus output is never exactly 0, and a faint floor over a 72 x 72 tile
   would otherwise add dozens of scattered points.
2. **Integer counts that conserve the tile's total** (:func:`integer_counts`): every
   pixel gets the floor of its count, and the ``round(total) - sum(floors)`` remaining
   points go to the pixels with the largest fractional parts (ties: row-major order).
   The tile then holds ``round(sum of its counts)`` points and no pixel is off by one
   or more; rounding pixel by pixel would lose every pixel below 0.5.
3. **Coordinates.** Each point of pixel ``(r, c)`` of a tile with top-left pixel
   ``(y, x)`` in section ``s`` sits at the pixel centre, ``x_nm = (x + c + 0.5) * p``,
   ``y_nm = (y + r + 0.5) * p`` (canonical origin at the corner of pixel (0, 0)), and at
   the section's mid-plane, ``z_nm = (s + 0.5) * t`` for a section thickness ``t``: the
   section is the axial resolution of the method. Several points of one pixel coincide.
   ``confidence`` is the pixel's predicted count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Columns of the point table, in order.
POINT_COLUMNS = ("frame", "x_nm", "y_nm", "z_nm", "confidence", "section", "roi")


def integer_counts(counts: np.ndarray) -> np.ndarray:
    """Non-negative integer counts summing to ``round(counts.sum())``, each within 1 of its pixel.

    Parameters
    ----------
    counts : numpy.ndarray
        Non-negative counts of one tile, any shape.

    Returns
    -------
    numpy.ndarray of int64, same shape

    Examples
    --------
    >>> integer_counts(np.array([0.4, 0.4, 0.4, 1.7])).tolist()
    [1, 0, 0, 2]
    """
    values = np.clip(np.asarray(counts, np.float64), 0.0, None)
    floors = np.floor(values)
    out = floors.astype(np.int64).ravel()
    missing = int(np.rint(values.sum())) - int(out.sum())
    if missing > 0:
        fractions = (values - floors).ravel()
        order = np.argsort(-fractions, kind="stable")[:missing]
        out[order] += 1
    return out.reshape(values.shape)


def counts_to_points(counts: np.ndarray, *, xs, ys, sections, rois, pixel_size_nm: float,
                     section_thickness_nm: float, min_count: float = 0.0) -> pd.DataFrame:
    """The 3D points of predicted count tiles.

    Parameters
    ----------
    counts : numpy.ndarray, shape ``(k, size, size)``
        Predicted localizations per pixel of ``k`` tiles.
    xs, ys : array_like of int, length ``k``
        Column and row of each tile's top-left pixel, px.
    sections, rois : array_like of int, length ``k``
        Each tile's section and ROI id.
    pixel_size_nm, section_thickness_nm : float
        Lateral pixel size and section thickness, nm.
    min_count : float, optional
        Pixels predicting fewer localizations are zeroed first.

    Returns
    -------
    pandas.DataFrame
        :data:`POINT_COLUMNS`, one row per point, tiles in the order given and pixels in
        row-major order; ``frame`` equals ``section``.
    """
    counts = np.asarray(counts, np.float64)
    kept = np.where(counts >= min_count, counts, 0.0)
    n = (np.stack([integer_counts(tile) for tile in kept]) if len(kept)
         else np.zeros(kept.shape, np.int64))
    tile_of, rows, cols = (np.repeat(index, n[n > 0]) for index in np.nonzero(n))
    value = kept[tile_of, rows, cols]
    xs, ys = np.asarray(xs, np.int64), np.asarray(ys, np.int64)
    section = np.asarray(sections, np.int64)[tile_of]
    return pd.DataFrame({
        "frame": section,
        "x_nm": (xs[tile_of] + cols + 0.5) * float(pixel_size_nm),
        "y_nm": (ys[tile_of] + rows + 0.5) * float(pixel_size_nm),
        "z_nm": (section + 0.5) * float(section_thickness_nm),
        "confidence": value.astype(np.float64),
        "section": section,
        "roi": np.asarray(rois, np.int64)[tile_of],
    }, columns=list(POINT_COLUMNS))


__all__ = ["POINT_COLUMNS", "counts_to_points", "integer_counts"]
