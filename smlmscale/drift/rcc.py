"""Kernels of redundant cross-correlation (RCC) drift correction (Wang et al., Opt. Express
22, 15982, 2014). NumPy in, NumPy out; no Dask, no paths.

Frames are split into segments of ``segment_frames`` (the remainder joins the last one);
each segment is rendered as a histogram (render pixel ``(i, j)`` spans
``[x0 + j p, x0 + (j + 1) p) x [y0 + i p, y0 + (i + 1) p)`` nm). Every pair ``i < j`` is
cross-correlated, ``C[k] = sum_n A_i[n] A_j[n + k]``, over lags ``|k| <= max_shift_px``
(zero-padded FFT, so exactly the linear correlation); the peak, smoothed by a Gaussian and
located to sub-pixel by a three-point Gaussian fit per axis, is the displacement
``d_j - d_i`` of segment ``j`` against segment ``i``. The overdetermined system of all
pairs is solved by least squares; the pairs whose residual exceeds ``max_residual_nm``
are rejected (worst first, keeping the system solvable) and the system solved again. The
per-frame drift is a natural cubic spline through the segment centres; corrected
positions are ``x - drift(frame)``.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy.interpolate import CubicSpline


def segment_of(frame: np.ndarray, *, segment_frames: int, n_segments: int) -> np.ndarray:
    """The segment of each frame: ``frame // segment_frames``, the remainder in the last.

    >>> segment_of(np.array([0, 999, 1000, 2500]), segment_frames=1000, n_segments=2)
    array([0, 0, 1, 1])
    """
    return np.minimum(np.asarray(frame, np.int64) // segment_frames, n_segments - 1)


def segment_histograms(x_nm: np.ndarray, y_nm: np.ndarray, segment: np.ndarray, *,
                       shape: tuple[int, int], origin_nm: tuple[float, float],
                       pixel_nm: float) -> dict[int, np.ndarray]:
    """Histogram images of the segments present in one block.

    Parameters
    ----------
    x_nm, y_nm : numpy.ndarray
        Positions, nm.
    segment : numpy.ndarray
        Segment index of each localization (:func:`segment_of`).
    shape : tuple of int
        ``(H, W)`` render pixels.
    origin_nm : tuple of float
        ``(y0, x0)``: the top-left corner of the rendered field, nm.
    pixel_nm : float
        Render pixel size, nm.

    Returns
    -------
    dict
        ``{segment: (H, W) float64 counts}``; positions outside the field are dropped.
    """
    col = np.floor((np.asarray(x_nm, np.float64) - origin_nm[1]) / pixel_nm).astype(np.int64)
    row = np.floor((np.asarray(y_nm, np.float64) - origin_nm[0]) / pixel_nm).astype(np.int64)
    segment = np.asarray(segment, np.int64)
    inside = (row >= 0) & (row < shape[0]) & (col >= 0) & (col < shape[1])
    row, col, segment = row[inside], col[inside], segment[inside]
    images = {}
    for s in np.unique(segment):
        keep = segment == s
        flat = row[keep] * shape[1] + col[keep]
        images[int(s)] = np.bincount(flat, minlength=shape[0] * shape[1]).reshape(
            shape).astype(np.float64)
    return images


def padded_shape(shape: tuple[int, int], max_shift_px: int) -> tuple[int, int]:
    """The FFT size that makes lags ``|k| <= max_shift_px`` free of wrap-around."""
    return tuple(sfft.next_fast_len(n + max_shift_px, real=True) for n in shape)


def spectrum(image: np.ndarray, *, max_shift_px: int) -> np.ndarray:
    """The real FFT of ``image`` zero-padded to :func:`padded_shape`."""
    return sfft.rfft2(image, s=padded_shape(image.shape, max_shift_px))


def correlation_window(spectrum_a: np.ndarray, spectrum_b: np.ndarray, *,
                       padded: tuple[int, int], max_shift_px: int,
                       sigma_px: float = 0.0) -> np.ndarray:
    """Cross-correlation ``C[k] = sum_n a[n] b[n + k]`` for lags ``-m..m`` per axis.

    Parameters
    ----------
    spectrum_a, spectrum_b : numpy.ndarray
        :func:`spectrum` of the two images (same padded size ``padded``).
    padded : tuple of int
        The padded image shape.
    max_shift_px : int
        ``m``, the largest lag, render px.
    sigma_px : float
        Gaussian smoothing of the correlation, render px (0: none).

    Returns
    -------
    numpy.ndarray
        ``(2m + 1, 2m + 1)``; element ``[m + ky, m + kx]`` is lag ``(ky, kx)``.
    """
    product = np.conj(spectrum_a) * spectrum_b
    if sigma_px > 0:
        fy = sfft.fftfreq(padded[0])[:, None]
        fx = sfft.rfftfreq(padded[1])[None, :]
        product = product * np.exp(-2 * np.pi**2 * sigma_px**2 * (fy**2 + fx**2))
    corr = sfft.irfft2(product, s=padded)
    m = max_shift_px
    lags_y = np.r_[np.arange(padded[0] - m, padded[0]), np.arange(m + 1)]
    lags_x = np.r_[np.arange(padded[1] - m, padded[1]), np.arange(m + 1)]
    return corr[np.ix_(lags_y, lags_x)]


def _vertex(left: float, centre: float, right: float) -> float:
    """Offset of a Gaussian's (log-parabola's) vertex through three samples, in [-0.5, 0.5]."""
    values = np.array([left, centre, right])
    if np.all(values > 0):
        values = np.log(values)
    denominator = values[0] - 2 * values[1] + values[2]
    if denominator >= 0:
        return 0.0
    return float(np.clip(0.5 * (values[0] - values[2]) / denominator, -0.5, 0.5))


def peak_offset(window: np.ndarray) -> tuple[float, float, float]:
    """Sub-pixel position of the maximum of a :func:`correlation_window`.

    Returns
    -------
    tuple of float
        ``(dy_px, dx_px, peak)``: the lag of the maximum, render px (three-point
        Gaussian fit per axis; integer at the window's border), and its value.
    """
    m = window.shape[0] // 2
    iy, ix = np.unravel_index(int(np.argmax(window)), window.shape)
    dy, dx = float(iy - m), float(ix - m)
    if 0 < iy < window.shape[0] - 1:
        dy += _vertex(window[iy - 1, ix], window[iy, ix], window[iy + 1, ix])
    if 0 < ix < window.shape[1] - 1:
        dx += _vertex(window[iy, ix - 1], window[iy, ix], window[iy, ix + 1])
    return dy, dx, float(window[iy, ix])


def pair_shift(spectrum_a: np.ndarray, spectrum_b: np.ndarray, *, padded: tuple[int, int],
               max_shift_px: int, sigma_px: float) -> tuple[float, float, float]:
    """``(dy_px, dx_px, peak)`` of image b against image a (:func:`peak_offset`)."""
    return peak_offset(correlation_window(spectrum_a, spectrum_b, padded=padded,
                                          max_shift_px=max_shift_px, sigma_px=sigma_px))


def _design(pairs: np.ndarray, n_segments: int) -> np.ndarray:
    """Rows ``d_j - d_i`` over unknowns ``d_1..d_{n-1}`` (``d_0 = 0``)."""
    design = np.zeros((len(pairs), n_segments))
    design[np.arange(len(pairs)), pairs[:, 1]] = 1.0
    design[np.arange(len(pairs)), pairs[:, 0]] -= 1.0
    return design[:, 1:]


def solve_drift(pairs: np.ndarray, shifts_nm: np.ndarray, *, n_segments: int,
                max_residual_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment drift from the pair displacements, with outlier pairs rejected.

    Parameters
    ----------
    pairs : numpy.ndarray
        ``(P, 2)`` segment indices ``(i, j)``, ``i < j``.
    shifts_nm : numpy.ndarray
        ``(P, D)`` measured ``d_j - d_i`` per axis, nm.
    n_segments : int
    max_residual_nm : float
        Pairs whose residual (Euclidean over axes) exceeds this are dropped, worst
        first, as long as every segment stays connected.

    Returns
    -------
    drift_nm : numpy.ndarray
        ``(n_segments, D)``, segment 0 at zero.
    kept : numpy.ndarray
        ``(P,)`` bool, the pairs used in the final solution.
    """
    pairs = np.asarray(pairs, np.int64)
    shifts_nm = np.asarray(shifts_nm, np.float64)
    design = _design(pairs, n_segments)
    kept = np.ones(len(pairs), bool)
    while True:
        solution = np.linalg.lstsq(design[kept], shifts_nm[kept], rcond=None)[0]
        residual = np.linalg.norm(design @ solution - shifts_nm, axis=1)
        candidates = np.flatnonzero(kept & (residual > max_residual_nm))
        dropped = False
        for worst in candidates[np.argsort(-residual[candidates])]:
            trial = kept.copy()
            trial[worst] = False
            if np.linalg.matrix_rank(design[trial]) == n_segments - 1:
                kept = trial
                dropped = True
                break
        if not dropped:
            break
    return np.vstack([np.zeros((1, shifts_nm.shape[1])), solution]), kept


def drift_at(frame: np.ndarray, centres: np.ndarray, drift_nm: np.ndarray) -> np.ndarray:
    """Drift at each frame: a natural cubic spline through the segment centres.

    Parameters
    ----------
    frame : numpy.ndarray
        Frames (any, extrapolated beyond the first and last centre).
    centres : numpy.ndarray
        ``(S,)`` increasing segment centres, frames.
    drift_nm : numpy.ndarray
        ``(S, D)`` drift per segment, nm.

    Returns
    -------
    numpy.ndarray
        ``(len(frame), D)``, nm.
    """
    spline = CubicSpline(np.asarray(centres, np.float64), np.asarray(drift_nm, np.float64),
                         axis=0, bc_type="natural", extrapolate=True)
    return spline(np.asarray(frame, np.float64))


__all__ = ["correlation_window", "drift_at", "padded_shape", "pair_shift", "peak_offset",
           "segment_histograms", "segment_of", "solve_drift", "spectrum"]
