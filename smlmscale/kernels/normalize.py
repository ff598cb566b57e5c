"""Images projected to ``[0, 1]``: ``(p - min) / (max - min)``, constant images 0."""

from __future__ import annotations

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


__all__ = ["normalize_patch", "normalize_patches"]
