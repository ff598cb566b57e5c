"""The ``counts`` intensity-to-density fit from per-tile moment sums (kernels, NumPy).

Step 4 of :mod:`smlmscale.patches.counts` (seed step 3, "nn-averaged signal intensity
vs nn-averaged number of localizations per pixel ... fit with polynomial function"):
least squares of ``D = sum_j c_j I^j`` of degree ``degree``, with ``I = nn(tile)`` and
``D = nn(counts)`` (:func:`nn_average`), over the pixels with intensity > 0 of all kept
tiles. Memory stays bounded: each tile gives its moment sums (:func:`tile_moments`) in
a locally scaled variable; sums are rescaled to a common scale and added
(:func:`combine_moments`, per section on the workers, then on the driver), and the
driver solves the normal equations (:func:`fit_moments`). The result equals
:func:`numpy.polyfit` on the pooled pixels; coefficients are in raw intensity units,
highest power first.
"""

from __future__ import annotations

import numpy as np

from smlmscale.errors import InputError

#: Largest polynomial degree: the normal equations square the conditioning.
MAX_DEGREE = 6


def nn_average(image, nn_size: int) -> np.ndarray:
    """Mean over the ``nn_size x nn_size`` window around each pixel (edges repeated), float64.

    >>> nn_average(np.array([[0.0, 9.0], [0.0, 0.0]]), 3).round(3).tolist()
    [[2.0, 4.0], [1.0, 2.0]]
    """
    from scipy.ndimage import uniform_filter

    image = np.asarray(image, np.float64)
    if nn_size == 1:
        return image.copy()
    return uniform_filter(image, size=nn_size, mode="nearest")


def moment_length(degree: int) -> int:
    """Length of a moment vector of :func:`tile_moments`: ``3 * degree + 4``."""
    return 3 * degree + 4


def tile_moments(tile, counts, *, degree: int, nn_size: int) -> np.ndarray:
    """Moment sums of one tile for the intensity-to-density fit.

    Parameters
    ----------
    tile : array_like, shape (size, size)
        Intensities.
    counts : array_like, shape (size, size)
        Localizations per pixel (:func:`~smlmscale.patches.counts.tile_counts`).
    degree, nn_size : int

    Returns
    -------
    numpy.ndarray of float64, shape ``(3 * degree + 4,)``
        ``[m, n, S_0 .. S_2d, T_0 .. T_d]`` over the ``n`` pixels with intensity
        > 0: ``s = nn(tile) / m`` with ``m`` the largest ``|nn(tile)|`` there (the
        local scale), ``S_j = sum s^j`` and ``T_j = sum nn(counts) * s^j``. All
        zero when no pixel qualifies.
    """
    tile = np.asarray(tile, np.float64)
    out = np.zeros(moment_length(degree))
    keep = tile > 0
    if not keep.any():
        return out
    intensity = nn_average(tile, nn_size)[keep]
    density = nn_average(counts, nn_size)[keep]
    scale = float(np.abs(intensity).max())
    if scale == 0:
        return out
    powers = (intensity / scale)[:, None] ** np.arange(2 * degree + 1)
    out[0], out[1] = scale, intensity.size
    out[2:2 * degree + 3] = powers.sum(axis=0)
    out[2 * degree + 3:] = density @ powers[:, :degree + 1]
    return out


def combine_moments(moments, *, degree: int) -> np.ndarray:
    """Sum moment vectors of :func:`tile_moments` (or of this function) into one.

    Each vector's sums are rescaled from its own scale ``m`` to the largest one,
    ``M``: with ``s = I / m``, ``I / M = s * (m / M)``, so ``S_j`` and ``T_j`` gain a
    factor ``(m / M)^j``. Vectors without pixels are skipped (all zero if none has any).

    Parameters
    ----------
    moments : array_like, shape (k, 3 * degree + 4)
    degree : int

    Returns
    -------
    numpy.ndarray of float64, shape ``(3 * degree + 4,)``
    """
    moments = np.asarray(moments, np.float64).reshape(-1, moment_length(degree))
    moments = moments[(moments[:, 1] > 0) & (moments[:, 0] > 0)]
    out = np.zeros(moment_length(degree))
    if not len(moments):
        return out
    common = moments[:, 0].max()
    ratio = moments[:, 0] / common
    out[0], out[1] = common, moments[:, 1].sum()
    out[2:2 * degree + 3] = (moments[:, 2:2 * degree + 3]
                             * ratio[:, None] ** np.arange(2 * degree + 1)).sum(axis=0)
    out[2 * degree + 3:] = (moments[:, 2 * degree + 3:]
                            * ratio[:, None] ** np.arange(degree + 1)).sum(axis=0)
    return out


def fit_moments(moments, *, degree: int) -> tuple[np.ndarray, int]:
    """Least-squares polynomial from tile moments (equals :func:`numpy.polyfit`).

    Parameters
    ----------
    moments : array_like, shape (k, 3 * degree + 4)
        Rows of :func:`tile_moments` or :func:`combine_moments` (of the kept tiles).
    degree : int

    Returns
    -------
    coefficients : numpy.ndarray of float64, shape ``(degree + 1,)``
        Density (localizations per pixel) as a polynomial of the nn-averaged
        intensity in raw units, highest power first (:func:`numpy.polyval` order).
    pixels : int
        Pixels in the fit.

    Raises
    ------
    InputError
        Fewer pixels or distinct intensities than the polynomial has coefficients.
    """
    total = combine_moments(moments, degree=degree)
    pixels = int(round(total[1]))
    if pixels < degree + 1:
        raise InputError(f"only {pixels} pixels with intensity > 0 in the ROI tiles, too few "
                         f"for a degree {degree} fit", hint="lower --degree or give more ROIs")
    sums, cross = total[2:2 * degree + 3], total[2 * degree + 3:]
    index = np.arange(degree + 1)
    gram = sums[index[:, None] + index[None, :]]
    norm = np.sqrt(np.diag(gram))  # Jacobi scaling: a better conditioned system
    solution, _, rank, _ = np.linalg.lstsq(gram / np.outer(norm, norm), cross / norm,
                                           rcond=None)
    if rank < degree + 1:
        raise InputError(f"the ROI tiles hold too few distinct intensities for a degree "
                         f"{degree} fit", hint="lower --degree")
    coefficients = solution / norm / total[0] ** index
    return coefficients[::-1].copy(), pixels


__all__ = ["MAX_DEGREE", "combine_moments", "fit_moments", "moment_length", "nn_average",
           "tile_moments"]
