"""The two normalizations of training inputs (Deep-STORM3D's, seed 004).

- ``project_01``: each image projected to ``[0, 1]`` by its own minimum and maximum,
  ``(p - min) / (max - min)``, constant images 0 (:func:`normalize_patches`,
  :func:`normalize_patch`); for data whose SNR changes from frame to frame.
- ``global_factors``: ``(p - a) / b`` with two fixed numbers, the seed's
  ``global_factors = [a, b]`` (:func:`normalize_global`); for data whose SNR does not.

Both compute in float64 and return float32 (what the networks read).
"""

from __future__ import annotations

import math

import numpy as np


def normalize_patches(patches: np.ndarray) -> np.ndarray:
    """Project each image of ``(k, H, W)`` to ``[0, 1]``; constant images become 0; float32.

    Parameters
    ----------
    patches : array_like, shape (..., H, W)
        Any real dtype (camera ADU or preprocessed values); the projection is computed
        in float64 over the last two axes.

    Returns
    -------
    numpy.ndarray of float32, the shape of ``patches``

    Examples
    --------
    >>> normalize_patches(np.array([[[2, 4], [6, 10]]])).tolist()
    [[[0.0, 0.25], [0.5, 1.0]]]
    """
    patches = np.asarray(patches, dtype=np.float64)
    lo = patches.min(axis=(-2, -1), keepdims=True)
    span = patches.max(axis=(-2, -1), keepdims=True) - lo
    out = np.divide(patches - lo, span, out=np.zeros_like(patches), where=span > 0)
    return out.astype(np.float32)


def normalize_patch(patch: np.ndarray) -> np.ndarray:
    """One ``(H, W)`` image projected to ``[0, 1]`` (see :func:`normalize_patches`)."""
    return normalize_patches(np.asarray(patch)[None])[0]


def normalize_global(images: np.ndarray, *, subtract: float, divide: float) -> np.ndarray:
    """``(images - subtract) / divide`` as float32 (the seed's ``global_factors``).

    Parameters
    ----------
    images : array_like
        Any shape and real dtype, image units (camera ADU or preprocessed values).
    subtract : float
        Subtracted first (``global_factors[0]``), image units.
    divide : float
        Then divided by (``global_factors[1]``, finite and non-zero), image units.

    Returns
    -------
    numpy.ndarray of float32, the shape of ``images``

    Raises
    ------
    ValueError
        ``divide`` is 0 or not finite, or ``subtract`` not finite.

    Examples
    --------
    >>> normalize_global(np.array([[0, 125], [250, 500]]), subtract=0.0, divide=250.0).tolist()
    [[0.0, 0.5], [1.0, 2.0]]
    """
    if not (math.isfinite(divide) and divide != 0 and math.isfinite(subtract)):
        raise ValueError(f"global normalization needs a finite subtract and a finite, "
                         f"non-zero divide, got {subtract!r} and {divide!r}")
    out = (np.asarray(images, dtype=np.float64) - subtract) / divide
    return out.astype(np.float32)


__all__ = ["normalize_global", "normalize_patch", "normalize_patches"]
