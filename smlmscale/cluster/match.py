"""Recovered clusters against simulated ones, matched by centroid (end-to-end checks).

A simulated cluster is **recovered** when a found cluster's centroid lies within
``tolerance_nm`` of its own (3D distance, nm). Pairs are made greedily, closest first, each
cluster used at most once, the same rule as the localization matching of
:mod:`smlmscale.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ClusterMatch:
    """Outcome of :func:`match_clusters`.

    Attributes
    ----------
    truth, found, matched : int
        Simulated clusters considered, clusters found, pairs made.
    recovered : float
        ``matched / truth`` (NaN without truth).
    distance_nm : float
        Mean centroid distance of the pairs, nm (NaN without pairs).
    pairs : pandas.DataFrame
        ``truth_cluster``, ``found_cluster``, ``distance_nm``.
    """

    truth: int
    found: int
    matched: int
    recovered: float
    distance_nm: float
    pairs: pd.DataFrame


def match_clusters(found: pd.DataFrame, truth: pd.DataFrame, *,
                   tolerance_nm: float = 200.0) -> ClusterMatch:
    """Pair found clusters with simulated ones by centroid.

    Parameters
    ----------
    found, truth : pandas.DataFrame
        With ``cluster``, ``x_nm``, ``y_nm``, ``z_nm`` (centroids, nm); rows of ``truth``
        with NaN centroids (clusters outside the volume) are ignored.
    tolerance_nm : float
        Largest centroid distance of a pair, nm.

    Examples
    --------
    >>> t = pd.DataFrame({"cluster": [0, 1], "x_nm": [0.0, 1e4], "y_nm": 0.0, "z_nm": 0.0})
    >>> f = pd.DataFrame({"cluster": [7], "x_nm": [30.0], "y_nm": 40.0, "z_nm": 0.0})
    >>> m = match_clusters(f, t)
    >>> (m.matched, m.recovered, m.distance_nm)
    (1, 0.5, 50.0)
    """
    from scipy.spatial import cKDTree

    columns = ["x_nm", "y_nm", "z_nm"]
    truth = truth.dropna(subset=columns)
    a, b = truth[columns].to_numpy(np.float64), found[columns].to_numpy(np.float64)
    pairs = np.zeros((0, 3))
    if len(a) and len(b):
        near = cKDTree(a).sparse_distance_matrix(cKDTree(b), tolerance_nm,
                                                 output_type="ndarray")
        order = np.argsort(near["v"], kind="stable")
        used_a, used_b, kept = set(), set(), []
        for i, j, d in zip(near["i"][order], near["j"][order], near["v"][order]):
            if i not in used_a and j not in used_b:
                used_a.add(i), used_b.add(j), kept.append((i, j, d))
        pairs = np.array(kept, dtype=np.float64).reshape(-1, 3)
    ti, fj = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    table = pd.DataFrame({"truth_cluster": truth["cluster"].to_numpy()[ti],
                          "found_cluster": found["cluster"].to_numpy()[fj],
                          "distance_nm": pairs[:, 2]})
    return ClusterMatch(truth=len(a), found=len(b), matched=len(table),
                        recovered=len(table) / len(a) if len(a) else float("nan"),
                        distance_nm=float(table["distance_nm"].mean()) if len(table)
                        else float("nan"), pairs=table)


__all__ = ["ClusterMatch", "match_clusters"]
