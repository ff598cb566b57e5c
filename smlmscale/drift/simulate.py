"""A localization table with a known drift, for tests and benchmarks of ``undrift``."""

from __future__ import annotations

import numpy as np
import pandas as pd


def true_drift(frame: np.ndarray, *, frames: int, amplitude_nm: float = 30.0) -> np.ndarray:
    """``(len(frame), 2)`` x, y drift, nm: a linear ramp plus a sinusoid, tens of nm.

    >>> true_drift(np.array([0]), frames=100).round(1)
    array([[0., 0.]])
    """
    t = np.asarray(frame, np.float64) / frames
    dx = amplitude_nm * (1.2 * t + 0.5 * np.sin(2 * np.pi * 1.5 * t))
    dy = amplitude_nm * (-0.8 * t + 0.7 * np.sin(2 * np.pi * t + 0.3) - 0.7 * np.sin(0.3))
    return np.stack([dx, dy], axis=1)


def drifting_table(*, rows: int, frames: int, sites: int = 2000, field_nm: float = 10000.0,
                   precision_nm: float = 8.0, amplitude_nm: float = 30.0,
                   seed: int = 0) -> pd.DataFrame:
    """Binding sites blinking at random frames, each localization moved by the drift.

    Parameters
    ----------
    rows : int
        Localizations.
    frames : int
        Frames of the movie (0-based ``frame``, the table sorted by frame).
    sites : int
        Binding sites, uniform over a square of ``field_nm``.
    field_nm : float
        Side of the field, nm (positions start 500 nm inside).
    precision_nm : float
        Gaussian localization error per axis, nm.
    amplitude_nm : float
        Scale of :func:`true_drift`, nm.
    seed : int

    Returns
    -------
    pandas.DataFrame
        Canonical ``frame``, ``x_nm``, ``y_nm``, ``photons``.
    """
    rng = np.random.default_rng(seed)
    site_xy = rng.uniform(500.0, field_nm - 500.0, (sites, 2))
    frame = np.sort(rng.integers(0, frames, rows)).astype(np.int64)
    xy = site_xy[rng.integers(0, sites, rows)]
    xy += rng.normal(0.0, precision_nm, (rows, 2))
    xy += true_drift(frame, frames=frames, amplitude_nm=amplitude_nm)
    return pd.DataFrame({"frame": frame, "x_nm": xy[:, 0], "y_nm": xy[:, 1],
                         "photons": rng.uniform(500, 3000, rows)})


def drift_rmse_nm(estimate_nm: np.ndarray, truth_nm: np.ndarray) -> float:
    """RMS of the per-frame 2D error, nm, after removing the mean offset of each axis
    (a drift is known only up to a constant)."""
    error = np.asarray(estimate_nm, np.float64) - np.asarray(truth_nm, np.float64)
    error -= error.mean(axis=0)
    return float(np.sqrt((error**2).sum(axis=1).mean()))


__all__ = ["drift_rmse_nm", "drifting_table", "true_drift"]
