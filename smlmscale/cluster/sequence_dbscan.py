"""DBSCAN per tile sequence: the kernels a Dask task runs on a batch of sequences.

Each sequence (:mod:`.sequences`) is one synapse's volume; DBSCAN runs on its 3D
localizations alone, with an anisotropic neighbourhood (``eps_nm`` laterally,
``eps_z_nm`` axially; :mod:`.coords`). Labels are per sequence; the caller gives
each cluster a global id. No Dask here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import DBSCAN

from smlmscale.cluster.coords import check_eps, scaled_coordinates
from smlmscale.errors import InputError


def dbscan_points(points: pd.DataFrame, *, eps_nm: float, min_samples: int,
                  eps_z_nm: float | None = None) -> np.ndarray:
    """DBSCAN labels of one point cloud (scikit-learn, Euclidean on scaled coordinates).

    Parameters
    ----------
    points : pandas.DataFrame
        ``x_nm``, ``y_nm`` and, when present, ``z_nm`` (nm).
    eps_nm : float
        Lateral neighbourhood radius, nm.
    min_samples : int
        Points (the point itself included) within the neighbourhood of a core point.
    eps_z_nm : float, optional
        Axial neighbourhood radius, nm (default ``eps_nm``).

    Returns
    -------
    numpy.ndarray
        int64 labels in row order, 0.., -1 for noise; empty for an empty table.

    Raises
    ------
    InputError
        Bad ``eps_nm``, ``eps_z_nm`` or ``min_samples``; missing ``x_nm``/``y_nm``;
        a non-finite coordinate.

    Examples
    --------
    >>> t = pd.DataFrame({"x_nm": [0.0, 50.0, 900.0], "y_nm": 0.0, "z_nm": 0.0})
    >>> dbscan_points(t, eps_nm=80, min_samples=2).tolist()
    [0, 0, -1]
    """
    check_eps(eps_nm, eps_z_nm, min_samples)
    _require(points, ("x_nm", "y_nm"))
    if not len(points):
        return np.empty(0, np.int64)
    coords = _finite(scaled_coordinates(points, eps_nm=eps_nm, eps_z_nm=eps_z_nm))
    return _dbscan(coords, eps_nm, min_samples)


def cluster_sequences(points: pd.DataFrame, *, eps_nm: float, min_samples: int,
                      eps_z_nm: float | None = None) -> pd.DataFrame:
    """DBSCAN on each sequence's 3D localizations separately.

    The coordinates are scaled once for the whole table; the rows are grouped by a
    stable sort on ``sequence`` (a slice per sequence when the table is already
    sorted), so no sub-frame is built per sequence. Sequences are processed in
    increasing order; within one, the points keep their table order, so the
    labels equal :func:`serial_reference`'s.

    Parameters
    ----------
    points : pandas.DataFrame
        ``x_nm``, ``y_nm``, ``z_nm`` (nm) and ``sequence`` (integer >= 0; drop the
        points with -1/-2 from :func:`~smlmscale.cluster.sequences.assign_sequences`
        first).
    eps_nm, min_samples, eps_z_nm
        As in :func:`dbscan_points`.

    Returns
    -------
    pandas.DataFrame
        Index ``points.index``; int64 columns ``sequence`` and
        ``cluster_in_sequence`` (the per-sequence DBSCAN label, -1 noise).

    Raises
    ------
    InputError
        As :func:`dbscan_points`, plus a missing ``z_nm``/``sequence`` column or a
        negative or non-integer sequence.
    """
    sequence, coords = _prepare(points, eps_nm, eps_z_nm, min_samples)
    labels = np.full(sequence.size, -1, np.int64)
    if sequence.size:
        presorted = bool(np.all(sequence[1:] >= sequence[:-1]))
        order = None if presorted else np.argsort(sequence, kind="stable")
        ordered = sequence if presorted else sequence[order]
        bounds = np.concatenate(([0], np.flatnonzero(np.diff(ordered)) + 1, [ordered.size]))
        for start, stop in zip(bounds[:-1], bounds[1:]):
            rows = slice(start, stop) if presorted else order[start:stop]
            labels[rows] = _dbscan(coords[rows], eps_nm, min_samples)
    return pd.DataFrame({"sequence": sequence, "cluster_in_sequence": labels},
                        index=points.index)


def serial_reference(points: pd.DataFrame, *, eps_nm: float, min_samples: int,
                     eps_z_nm: float | None = None) -> pd.DataFrame:
    """:func:`cluster_sequences` the plain way: a loop calling scikit-learn per sequence.

    The benchmark baseline and the tests' reference; same arguments and result.
    """
    sequence, _ = _prepare(points, eps_nm, eps_z_nm, min_samples)
    labels = np.full(len(points), -1, np.int64)
    for number in np.unique(sequence):
        mask = sequence == number
        coords = scaled_coordinates(points[mask], eps_nm=eps_nm, eps_z_nm=eps_z_nm)
        labels[mask] = DBSCAN(eps=eps_nm, min_samples=min_samples).fit_predict(coords)
    return pd.DataFrame({"sequence": sequence, "cluster_in_sequence": labels},
                        index=points.index)


def _prepare(points, eps_nm, eps_z_nm, min_samples):
    """Checked int64 sequence numbers and finite scaled ``(n, 3)`` coordinates."""
    check_eps(eps_nm, eps_z_nm, min_samples)
    _require(points, ("x_nm", "y_nm", "z_nm", "sequence"))
    values = pd.to_numeric(points["sequence"], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"localization {row} has sequence {points['sequence'].iloc[row]!r}",
                         hint="cluster only points with a sequence >= 0 (drop -1 and -2)")
    coords = _finite(scaled_coordinates(points, eps_nm=eps_nm, eps_z_nm=eps_z_nm))
    return values.astype(np.int64), coords


def _dbscan(coords, eps_nm, min_samples):
    return DBSCAN(eps=float(eps_nm), min_samples=int(min_samples)).fit_predict(coords) \
        .astype(np.int64)


def _require(points, columns):
    if not isinstance(points, pd.DataFrame):
        raise InputError(f"the localizations must be a table, got {type(points).__name__}")
    missing = [c for c in columns if c not in points.columns]
    if missing:
        raise InputError(f"the localization table has no {', '.join(missing)} column"
                         f"{'s' if len(missing) > 1 else ''}",
                         hint="give x_nm, y_nm (nm) and, for sequences, z_nm and sequence")


def _finite(coords):
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        raise InputError(f"localization {int(np.flatnonzero(bad)[0])} has a non-finite "
                         "coordinate", hint="drop localizations with NaN or infinite x, y, z")
    return coords


__all__ = ["cluster_sequences", "dbscan_points", "serial_reference"]
