"""Kernel: Fourier ring correlation of two images (Nieuwenhuizen et al., Nat. Methods 2013).

``frc_curve(a, b)``: each image is multiplied by a Tukey window (to suppress the edge
discontinuity), zero-padded to a square of ``N`` pixels and Fourier transformed; ring ``k``
holds the frequencies ``q`` with ``round(|q| N) = k`` (``q`` in cycles per pixel) and

    FRC(k) = Re sum F1 F2* / sqrt(sum |F1|^2 sum |F2|^2).

The curve is smoothed by a running mean over ``smooth_rings`` rings (the paper smooths
with a LOESS; a short running mean is enough to stop noise from crossing the threshold
early). ``crossing`` finds the first frequency at which the curve falls below the
threshold (1/7), interpolating linearly between rings; the resolution is its inverse.
NumPy in, NumPy out.
"""

from __future__ import annotations

import numpy as np
from scipy.signal.windows import tukey

THRESHOLD = 1.0 / 7.0


def frc_curve(a: np.ndarray, b: np.ndarray, *, pixel_nm: float, tukey_alpha: float = 0.25,
              smooth_rings: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The FRC of two ``(H, W)`` images, ring by ring up to the Nyquist frequency.

    Parameters
    ----------
    a, b : numpy.ndarray
        The two halves' images, same shape, render pixels of ``pixel_nm``.
    pixel_nm : float
        Render pixel size, nm.
    tukey_alpha : float
        Taper fraction of the Tukey window per axis (0: none, 1: Hann).
    smooth_rings : int
        Width of the running mean over rings (1: none).

    Returns
    -------
    frequency_per_nm : numpy.ndarray
        Ring frequencies, 1/nm, from the first ring (``1 / (N pixel_nm)``) to Nyquist.
    frc : numpy.ndarray
        The smoothed curve (NaN where a ring has no power).
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"two images of one (H, W) shape needed, got {a.shape}, {b.shape}")
    window = np.outer(tukey(a.shape[0], tukey_alpha), tukey(a.shape[1], tukey_alpha))
    n = max(a.shape)
    fa = np.fft.fft2(a * window, s=(n, n))
    fb = np.fft.fft2(b * window, s=(n, n))
    freq = np.fft.fftfreq(n)
    ring = np.rint(np.hypot(*np.meshgrid(freq, freq, indexing="ij")) * n).astype(np.int64)
    rings = n // 2 + 1
    keep = ring < rings
    r = ring[keep]
    num = np.bincount(r, (fa * np.conj(fb)).real[keep], minlength=rings)
    pa = np.bincount(r, (np.abs(fa) ** 2)[keep], minlength=rings)
    pb = np.bincount(r, (np.abs(fb) ** 2)[keep], minlength=rings)
    with np.errstate(invalid="ignore", divide="ignore"):
        frc = num / np.sqrt(pa * pb)
    frc = _smooth(frc[1:], smooth_rings)
    return np.arange(1, rings) / (n * pixel_nm), frc


def _smooth(curve: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return curve
    filled = np.nan_to_num(curve, nan=0.0)
    valid = np.isfinite(curve).astype(np.float64)
    kernel = np.ones(width)
    total = np.convolve(filled, kernel, mode="same")
    count = np.convolve(valid, kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def crossing(frequency_per_nm: np.ndarray, frc: np.ndarray, *,
             threshold: float = THRESHOLD) -> float | None:
    """First frequency (1/nm) where ``frc`` falls below ``threshold``, linearly
    interpolated between rings; None when it never does.

    >>> crossing(np.array([1.0, 2.0, 3.0]), np.array([0.9, 0.5, 0.1]), threshold=0.3)
    2.5
    """
    below = np.flatnonzero(~(frc >= threshold))
    if below.size == 0:
        return None
    i = int(below[0])
    if i == 0 or not np.isfinite(frc[i]):
        return float(frequency_per_nm[i])
    f0, f1, c0, c1 = frequency_per_nm[i - 1], frequency_per_nm[i], frc[i - 1], frc[i]
    return float(f0 + (c0 - threshold) / (c0 - c1) * (f1 - f0))


__all__ = ["THRESHOLD", "crossing", "frc_curve"]
