"""Kernel: a voxel grid -> 3D local maxima with a sub-voxel centre (Deep-STORM3D).

As the seed's post-processing: voxels above ``threshold`` are kept (the others count as
0), a voxel is a candidate when it is the maximum of the ``(2 radius + 1)^3`` cube around
it (zeros beyond the grid); equal neighbouring maxima (a plateau, 26-connected) give one
candidate, the first in raster order. The sub-voxel position is the weighted centroid of
the (unthresholded, clipped at 0) grid over the same cube, and the confidence the peak
value. NumPy/SciPy in, NumPy out; the grid's axes are ``(row, col, slice)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from smlmscale.localize.maxima import first_of_plateaus


@dataclass(frozen=True)
class Maxima3D:
    """Candidates of a voxel grid, in voxels.

    Attributes
    ----------
    row, col, slice : numpy.ndarray
        float64 sub-voxel position; voxel ``(i, j, k)`` spans ``[i, i + 1) x [j, j + 1) x
        [k, k + 1)``, so its centre is ``(i + 0.5, j + 0.5, k + 0.5)``.
    peak_row, peak_col, peak_slice : numpy.ndarray
        int64 voxel of each maximum.
    peak : numpy.ndarray
        float64 value at the maximum.
    """

    row: np.ndarray
    col: np.ndarray
    slice: np.ndarray
    peak_row: np.ndarray
    peak_col: np.ndarray
    peak_slice: np.ndarray
    peak: np.ndarray

    def __len__(self) -> int:
        return int(self.peak.size)


def find_maxima_3d(volume: np.ndarray, *, threshold: float, radius: int) -> Maxima3D:
    """3D local maxima of a ``(H, W, D)`` grid above ``threshold``, with centroids.

    Parameters
    ----------
    volume : numpy.ndarray
        ``(H, W, D)`` network output (negative values count as 0).
    threshold : float
        Keep voxels strictly above it (the seed's ``thresh``, grid units).
    radius : int
        Half-size of the suppression and centroid cube, voxels (the seed's 4).

    Returns
    -------
    Maxima3D
        In raster order.

    Examples
    --------
    >>> grid = np.zeros((5, 5, 5)); grid[2, 2, 2] = 4.0; grid[2, 3, 2] = 4.0
    >>> m = find_maxima_3d(grid, threshold=1.0, radius=1)
    >>> m.row.tolist(), m.col.tolist(), m.slice.tolist(), m.peak.tolist()
    ([2.5], [3.0], [2.5], [4.0])
    """
    if int(radius) < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    r = int(radius)
    values = np.maximum(np.asarray(volume, dtype=np.float32), 0)
    kept = np.where(values > threshold, values, 0)
    local = ndimage.maximum_filter(kept, size=2 * r + 1, mode="constant", cval=0.0)
    peaks = first_of_plateaus((kept == local) & (kept > 0), batch_axes=0)
    i, j, k = np.nonzero(peaks)
    padded = np.pad(values, r)
    d = np.arange(-r, r + 1)
    cube = padded[(i + r)[:, None, None, None] + d[None, :, None, None],
                  (j + r)[:, None, None, None] + d[None, None, :, None],
                  (k + r)[:, None, None, None] + d[None, None, None, :]].astype(np.float64)
    mass = cube.sum(axis=(1, 2, 3))
    offsets = [(cube * np.expand_dims(d, tuple(a for a in range(3) if a != axis))[None]
                ).sum(axis=(1, 2, 3)) / mass for axis in range(3)]
    return Maxima3D(row=i + 0.5 + offsets[0], col=j + 0.5 + offsets[1],
                    slice=k + 0.5 + offsets[2], peak_row=i.astype(np.int64),
                    peak_col=j.astype(np.int64), peak_slice=k.astype(np.int64),
                    peak=values[i, j, k].astype(np.float64))


__all__ = ["Maxima3D", "find_maxima_3d"]
