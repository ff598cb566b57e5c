"""An empirical PSF from a measured bead z-stack (NumPy kernels; no paths, no printing).

:func:`bead_psf` takes a ``(z, y, x)`` stack of one fluorescent bead (the seed's
calibration stack) through these steps:

1. **Background**: per slice, the median of a border frame ``border_px`` wide; its noise
   is 1.4826 times the median absolute deviation there.
2. **Detection**: the bead is the maximum of the background-subtracted, z-averaged,
   Gaussian-smoothed (1 px) stack; it must stand ``min_snr`` times that image's own
   border noise above the background, and lie inside the border, or the stack is refused.
3. **Registration**: in each slice, the intensity centroid of the pixels where the
   smoothed slice exceeds 3 noise (its support) is moved onto the centre of the bead's
   pixel by a Fourier (sub-pixel, periodic) shift; this removes the stage's lateral drift
   between slices.
4. **Window and normalization**: a ``size_px`` square around the bead; pixels more than
   2 px from the slice's support are set to 0 (the tails lost in the noise), negative
   ones too, and each slice is scaled to unit energy over the window.
5. **Interpolation in z** (:func:`interpolate_z`): a cubic spline through the slices
   (linear for fewer than 4), renormalized, on the output grid.

Pixel coordinates here are array indices (pixel ``(i, j)`` centred at ``(i, j)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from smlmscale.errors import InputError

#: Smoothing of the detection image and of each slice's support, px.
SMOOTH_PX = 1.0
#: The noise of an image smoothed by ``SMOOTH_PX``, relative to the raw noise
#: (``1 / (2 sqrt(pi) sigma)`` for white noise).
SMOOTH_NOISE = 1.0 / (2.0 * math.sqrt(math.pi) * SMOOTH_PX)
#: A slice's support: where its smoothed image exceeds this many (smoothed) noise.
SUPPORT_SIGMA = 3.0
#: The support is widened by this many px before the tails are cut.
SUPPORT_GROW_PX = 2
#: Registration passes after the first centroid (the support re-centred on the bead).
REFINE_STEPS = 2


@dataclass(frozen=True, eq=False)
class BeadPsfResult:
    """What :func:`bead_psf` found and made.

    Attributes
    ----------
    images : numpy.ndarray
        ``(z, s, s)`` float64, registered, unit energy per slice; the bead at ``(s//2, s//2)``.
    centre_px : tuple of int
        The bead's pixel ``(row, col)`` in the stack.
    centroids_px : numpy.ndarray
        ``(z, 2)`` measured ``(row, col)`` centroid of each slice before registration.
    background : numpy.ndarray
        ``(z,)`` background subtracted from each slice, stack units.
    noise : float
        Median background noise of the slices, stack units.
    snr : float
        The bead's peak in the detection image over that image's noise.
    photons : numpy.ndarray
        ``(z,)`` the bead's background-subtracted sum in the window, stack units.
    """

    images: np.ndarray
    centre_px: tuple[int, int]
    centroids_px: np.ndarray
    background: np.ndarray
    noise: float
    snr: float
    photons: np.ndarray


def border_stats(stack: np.ndarray, border_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-slice median and robust noise (1.4826 MAD) of a ``border_px`` frame."""
    edge = np.ones(stack.shape[1:], bool)
    edge[border_px:-border_px, border_px:-border_px] = False
    values = stack[:, edge]
    median = np.median(values, axis=1)
    mad = np.median(np.abs(values - median[:, None]), axis=1)
    return median, 1.4826 * mad


def shift_blur(images: np.ndarray, dy_px, dx_px, blur_sigma_px=None) -> np.ndarray:
    """Shift ``(n, h, w)`` images by ``(dy, dx)`` px (Fourier, periodic) and blur them
    with a Gaussian of ``blur_sigma_px`` (each ``(n,)`` or a number), in one FFT pair.

    The sum of each image is kept (the zero frequency is untouched).

    >>> img = np.zeros((1, 9, 9)); img[0, 4, 4] = 1.0
    >>> out = shift_blur(img, 1.0, -2.0)
    >>> np.unravel_index(out[0].argmax(), (9, 9)), round(float(out.sum()), 9)
    ((np.int64(5), np.int64(2)), 1.0)
    """
    images = np.asarray(images, np.float64)
    _, h, w = images.shape
    fy = np.fft.fftfreq(h)[None, :, None]
    fx = np.fft.fftfreq(w)[None, None, :]
    dy = np.reshape(np.asarray(dy_px, np.float64), (-1, 1, 1))
    dx = np.reshape(np.asarray(dx_px, np.float64), (-1, 1, 1))
    multiplier = np.exp(-2j * np.pi * (fy * dy + fx * dx))
    if blur_sigma_px is not None:
        sigma = np.reshape(np.asarray(blur_sigma_px, np.float64), (-1, 1, 1))
        multiplier = multiplier * np.exp(-2.0 * np.pi ** 2 * sigma ** 2 * (fy ** 2 + fx ** 2))
    return np.fft.ifft2(np.fft.fft2(images) * multiplier).real


def _support(image: np.ndarray, noise: float) -> np.ndarray:
    smooth = ndimage.gaussian_filter(image, SMOOTH_PX, mode="constant")
    return smooth > SUPPORT_SIGMA * SMOOTH_NOISE * max(noise, 1e-12)


def _centroid(image: np.ndarray, support: np.ndarray) -> tuple[float, float] | None:
    weights = np.where(support, image, 0.0)
    total = weights.sum()
    if not support.any() or total <= 0:
        return None
    rows, cols = np.indices(image.shape)
    return float((weights * rows).sum() / total), float((weights * cols).sum() / total)


def _detect(signal: np.ndarray, border_px: int, min_snr: float) -> tuple[tuple[int, int], float]:
    projection = ndimage.gaussian_filter(signal.mean(axis=0), SMOOTH_PX, mode="nearest")
    _, noise = border_stats(projection[None], border_px)
    h, w = projection.shape
    inner = projection[border_px:h - border_px, border_px:w - border_px]
    r, c = np.unravel_index(int(np.argmax(inner)), inner.shape)
    peak = float(inner[r, c])
    snr = peak / noise[0] if noise[0] > 0 else (math.inf if peak > 0 else 0.0)
    if not snr >= min_snr:
        raise InputError(f"no bead found: the brightest spot stands {snr:.1f}x the "
                         f"background noise above the background (at least {min_snr:g} "
                         "needed)", param="min_snr",
                         hint="give a z-stack (z, y, x) of one bead, or lower {flag}")
    return (int(r) + border_px, int(c) + border_px), snr


def bead_psf(stack: np.ndarray, *, size_px: int | None = None, min_snr: float = 10.0,
             border_px: int | None = None) -> BeadPsfResult:
    """Find, background-subtract, register and normalize the bead of a z-stack.

    Parameters
    ----------
    stack : numpy.ndarray
        ``(z, y, x)`` bead images, any real dtype (counts or photons), 2 slices or more.
    size_px : int, optional
        Odd edge of the output window, px; default the largest odd window around the
        bead inside the stack, at most 61.
    min_snr : float
        How far the bead must stand above the noise (see the module's step 2).
    border_px : int, optional
        Width of the border frame that measures the background; default
        ``max(2, min(y, x) // 10)``.

    Raises
    ------
    InputError
        Not a 3D stack of 2 slices and 9x9 px or more; no bead; a bead in the border or
        too near the edge for ``size_px``; an even ``size_px``.
    """
    stack = np.asarray(stack, np.float64)
    if stack.ndim != 3 or stack.shape[0] < 2 or min(stack.shape[1:]) < 9:
        raise InputError(f"a bead z-stack must be (z, y, x) with 2 slices or more of 9x9 px "
                         f"or more, got shape {stack.shape}")
    h, w = stack.shape[1:]
    border_px = max(2, min(h, w) // 10) if border_px is None else int(border_px)
    background, noise = border_stats(stack, border_px)
    signal = stack - background[:, None, None]
    (row, col), snr = _detect(signal, border_px, min_snr)
    room = min(row, col, h - 1 - row, w - 1 - col)
    size = min(2 * room + 1, 61) if size_px is None else int(size_px)
    if size % 2 == 0 or size < 3:
        raise InputError(f"{{flag}} must be an odd number of px (3 or more), got {size}",
                         param="size_px", flag="--size")
    if size // 2 > room:
        raise InputError(f"the bead at pixel (row {row}, col {col}) is too near the edge "
                         f"for a {size} px window (at most {2 * room + 1})", param="size_px",
                         flag="--size", hint="give a smaller {flag}")
    half = size // 2
    window = (slice(row - half, row + half + 1), slice(col - half, col + half + 1))
    centroids = np.full((len(stack), 2), np.nan)
    for k, image in enumerate(signal):
        support = np.zeros_like(image, bool)
        support[window] = _support(image[window], noise[k])
        found = _centroid(image, support)
        if found is not None:
            centroids[k] = found
    measured = np.isfinite(centroids[:, 0])
    if not measured.any():
        raise InputError("no bead found: no slice rises above its noise", param="min_snr")
    for axis in (0, 1):  # slices without support take their neighbours' centroid
        centroids[:, axis] = np.interp(np.arange(len(stack)), np.flatnonzero(measured),
                                       centroids[measured, axis])
    shifted = signal
    for _ in range(REFINE_STEPS):  # re-centre the support on the shifted bead
        shifted = shift_blur(signal, row - centroids[:, 0], col - centroids[:, 1])
        for k in np.flatnonzero(measured):
            support = np.zeros_like(shifted[k], bool)
            support[window] = _support(shifted[k][window], noise[k])
            found = _centroid(shifted[k], support)
            if found is not None:
                centroids[k] += (found[0] - row, found[1] - col)
    shifted = shift_blur(signal, row - centroids[:, 0], col - centroids[:, 1])
    images = shifted[(slice(None), *window)]
    photons = images.sum(axis=(1, 2))
    out = np.empty_like(images)
    for k, image in enumerate(images):
        keep = ndimage.binary_dilation(_support(image, noise[k]), iterations=SUPPORT_GROW_PX)
        out[k] = np.where(keep, np.clip(image, 0.0, None), 0.0)
    out = _unit_energy(out)
    return BeadPsfResult(images=out, centre_px=(row, col), centroids_px=centroids,
                         background=background, noise=float(np.median(noise)), snr=snr,
                         photons=photons)


def _unit_energy(images: np.ndarray) -> np.ndarray:
    total = images.sum(axis=(1, 2), keepdims=True)
    return np.divide(images, total, out=np.zeros_like(images), where=total > 0)


def interpolate_z(images: np.ndarray, z_in_nm: np.ndarray, z_out_nm: np.ndarray) -> np.ndarray:
    """``images`` at ``z_in_nm`` resampled at ``z_out_nm`` (cubic spline through the
    slices, linear for fewer than 4), clipped at 0 and scaled to unit energy.

    Raises
    ------
    InputError
        A requested z outside the slices' range.

    >>> imgs = np.stack([np.full((3, 3), v) for v in (1.0, 2.0, 3.0)])
    >>> interpolate_z(imgs, np.array([0.0, 50, 100]), np.array([25.0])).sum().round(6)
    np.float64(1.0)
    """
    from scipy.interpolate import make_interp_spline

    z_in, z_out = np.asarray(z_in_nm, np.float64), np.asarray(z_out_nm, np.float64)
    lo, hi = float(z_in.min()), float(z_in.max())
    if z_out.size and (z_out.min() < lo - 1e-6 or z_out.max() > hi + 1e-6):
        raise InputError(f"z {z_out.min():g}..{z_out.max():g} nm is outside the bead "
                         f"stack's {lo:g}..{hi:g} nm", param="z_range_nm", flag="--z-range",
                         hint="give a {flag} inside the stack")
    spline = make_interp_spline(z_in, images, k=min(3, len(z_in) - 1), axis=0)
    return _unit_energy(np.clip(spline(np.clip(z_out, lo, hi)), 0.0, None))


__all__ = ["BeadPsfResult", "bead_psf", "border_stats", "interpolate_z", "shift_blur"]
