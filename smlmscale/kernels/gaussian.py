"""SciPy's normalized Gaussian, and targets of Gaussian-blurred spikes (upsampled px).

A spike of weight ``w`` at pixel ``(r, c)`` adds ``w`` times the outer product of
:func:`gaussian_kernel1d` centred there, clipped at the image edge: this equals
:func:`scipy.ndimage.gaussian_filter` (truncate 4, ``mode="constant"``) of the spike
image, to float rounding, at a fraction of its cost.
"""

from __future__ import annotations

import numpy as np


def gaussian_kernel1d(sigma_px: float) -> np.ndarray:
    """SciPy's normalized 1-D Gaussian (truncate 4): ``2 int(4 sigma + 0.5) + 1`` weights.

    Parameters
    ----------
    sigma_px : float
        Standard deviation, px (> 0).

    Examples
    --------
    >>> gaussian_kernel1d(0.5).round(4).tolist()
    [0.0003, 0.1065, 0.7866, 0.1065, 0.0003]
    """
    radius = int(4.0 * sigma_px + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma_px) ** 2)
    return kernel / kernel.sum()


def stamp_targets(patch: np.ndarray, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray,
                  *, n: int, side: int, channels: np.ndarray | None = None,
                  n_channels: int = 1, sigma_px: float = 0.0) -> np.ndarray:
    """Targets ``(n, side, side, n_channels)``: Gaussian-blurred spikes, float32.

    Parameters
    ----------
    patch, rows, cols : ndarray of int
        Per spike: patch index, upsampled row and column inside the patch
        (clipped to ``0 .. side-1``).
    weights : ndarray
        Spike weights (spikes in one pixel add).
    n, side : int
        Number of patches and target side, upsampled pixels.
    channels : ndarray of int, optional
        Per spike channel (default 0).
    n_channels : int
    sigma_px : float
        Gaussian sigma in upsampled pixels; 0 leaves bare spikes.
    """
    patch = np.asarray(patch, np.int64)
    rows = np.clip(np.asarray(rows, np.int64), 0, side - 1)
    cols = np.clip(np.asarray(cols, np.int64), 0, side - 1)
    chan = np.zeros_like(patch) if channels is None else np.asarray(channels, np.int64)
    weights = np.asarray(weights, np.float64)
    if sigma_px > 0:
        kernel = gaussian_kernel1d(sigma_px)
        offsets = np.arange(kernel.size) - kernel.size // 2
        r = rows[:, None, None] + offsets[None, :, None]
        c = cols[:, None, None] + offsets[None, None, :]
        w = weights[:, None, None] * kernel[None, :, None] * kernel[None, None, :]
        shape = (len(rows), kernel.size, kernel.size)
        r, c, w = np.broadcast_to(r, shape), np.broadcast_to(c, shape), w
        keep = (r >= 0) & (r < side) & (c >= 0) & (c < side)
        p = np.broadcast_to(patch[:, None, None], shape)[keep]
        ch = np.broadcast_to(chan[:, None, None], shape)[keep]
        rows, cols, weights, patch, chan = r[keep], c[keep], w[keep], p, ch
    out = np.zeros((n, side, side, n_channels), np.float32)
    np.add.at(out, (patch, rows, cols, chan), weights.astype(np.float32))
    return out


def spike_target(x_up: np.ndarray, y_up: np.ndarray, weights: np.ndarray, *, side: int,
                 sigma_px: float) -> np.ndarray:
    """One ``(side, side)`` target from upsampled positions relative to its corner."""
    rows = np.floor(np.asarray(y_up, np.float64)).astype(np.int64)
    cols = np.floor(np.asarray(x_up, np.float64)).astype(np.int64)
    return stamp_targets(np.zeros(len(rows), np.int64), rows, cols, weights, n=1, side=side,
                         sigma_px=sigma_px)[0, ..., 0]


__all__ = ["gaussian_kernel1d", "spike_target", "stamp_targets"]
