"""Kernel: z of a localization from a z-binned density (deepstorm models on ``--z-bins``).

A deepstorm patch set made with ``--z-bins K --z-range LO:HI`` puts each emitter's spike
into channel ``floor((z - LO) / (HI - LO) K)``, so the network predicts one density per
bin. At a localization (a maximum of the channels' sum), each channel's density is summed
over the 3 x 3 pixels around the maximum (clipped at 0): the bin profile. The winning bin
is its largest; ``z_nm`` is the profile-weighted mean of the centres of the winning bin and
its neighbours (``LO + (k + 0.5) (HI - LO) / K``), which interpolates between bins where
the network shares an emitter between two. NumPy in, NumPy out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bin_centres(z_range_nm: Sequence[float], bins: int) -> np.ndarray:
    """The centres of ``bins`` equal bins over ``z_range_nm``, nm.

    >>> bin_centres((-600.0, 600.0), 4).tolist()
    [-450.0, -150.0, 150.0, 450.0]
    """
    lo, hi = (float(v) for v in z_range_nm)
    return lo + (np.arange(int(bins)) + 0.5) * (hi - lo) / int(bins)


def bin_profiles(density: np.ndarray, frame: np.ndarray, row: np.ndarray,
                 col: np.ndarray) -> np.ndarray:
    """Per-channel sums of ``(N, H, W, K)`` densities over the 3 x 3 pixels around
    ``(frame, row, col)`` (zeros beyond the image), clipped at 0: ``(n, K)`` float64."""
    values = np.maximum(np.asarray(density, dtype=np.float32), 0)
    padded = np.pad(values, ((0, 0), (1, 1), (1, 1), (0, 0)))
    d = np.arange(-1, 2)
    window = padded[np.asarray(frame)[:, None, None], np.asarray(row)[:, None, None] + 1
                    + d[None, :, None], np.asarray(col)[:, None, None] + 1 + d[None, None, :]]
    return window.sum(axis=(1, 2), dtype=np.float64)


def z_from_profiles(profiles: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """z (nm) of each ``(n, K)`` bin profile: its winning bin and the neighbours, weighted.

    A profile of zeros gives the centre of the first bin.

    >>> z_from_profiles(np.array([[0.0, 0.0, 0.0, 1.0, 3.0]]), bin_centres((0, 500), 5))
    array([425.])
    >>> z_from_profiles(np.array([[0.0, 2.0, 6.0, 2.0, 0.0]]), bin_centres((0, 500), 5))
    array([250.])
    """
    profiles = np.asarray(profiles, dtype=np.float64)
    n, bins = profiles.shape
    best = np.argmax(profiles, axis=1)
    near = np.clip(best[:, None] + np.arange(-1, 2)[None], 0, bins - 1)
    # a neighbour clipped onto the winner would count it twice
    distinct = np.ones(near.shape, bool)
    distinct[:, 0] = near[:, 0] != near[:, 1]
    distinct[:, 2] = near[:, 2] != near[:, 1]
    weights = np.take_along_axis(profiles, near, axis=1) * distinct
    total = weights.sum(axis=1)
    mean = (weights * np.asarray(centres)[near]).sum(axis=1)
    return np.where(total > 0, mean / np.where(total > 0, total, 1), np.asarray(centres)[best])


__all__ = ["bin_centres", "bin_profiles", "z_from_profiles"]
