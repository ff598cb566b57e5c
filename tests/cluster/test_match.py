"""match_clusters: greedy centroid pairs within a tolerance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from smlmscale.cluster.match import match_clusters


def _table(points, start=0):
    points = np.asarray(points, float)
    return pd.DataFrame({"cluster": np.arange(len(points)) + start, "x_nm": points[:, 0],
                         "y_nm": points[:, 1], "z_nm": points[:, 2]})


def test_pairs_are_one_to_one_closest_first():
    truth = _table([[0, 0, 0], [100, 0, 0], [5000, 0, 0], [np.nan, 0, 0]])
    found = _table([[60, 0, 0], [90, 0, 0], [9000, 0, 0]], start=10)
    m = match_clusters(found, truth, tolerance_nm=200)
    assert (m.truth, m.found, m.matched) == (3, 3, 2)  # the NaN centroid is ignored
    pairs = dict(zip(m.pairs.truth_cluster, m.pairs.found_cluster))
    assert pairs == {1: 11, 0: 10}  # 100 <-> 90 first (10 nm), then 0 <-> 60
    assert m.recovered == 2 / 3 and m.distance_nm == 35.0


def test_empty_inputs():
    m = match_clusters(_table(np.zeros((0, 3))), _table([[0, 0, 0]]))
    assert m.matched == 0 and m.recovered == 0 and np.isnan(m.distance_nm)
    assert np.isnan(match_clusters(_table([[0, 0, 0]]), _table(np.zeros((0, 3)))).recovered)
