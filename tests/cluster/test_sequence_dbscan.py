"""DBSCAN per sequence: the kernel equals the plain loop; anisotropic eps; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.cluster.sequence_dbscan import cluster_sequences, dbscan_points, serial_reference
from smlmscale.errors import InputError


def blobs(n_sequences=12, seed=0):
    """Sequences of a few Gaussian blobs plus background, rows shuffled, odd index."""
    rng = np.random.default_rng(seed)
    parts = []
    for sequence in range(n_sequences):
        for _ in range(rng.integers(1, 4)):
            centre = rng.uniform(0, 2000, 3)
            k = int(rng.integers(5, 60))
            xyz = centre + rng.normal(0, [30, 30, 60], (k, 3))
            parts.append(pd.DataFrame(xyz, columns=["x_nm", "y_nm", "z_nm"]).assign(
                sequence=sequence))
        noise = rng.uniform(0, 2000, (int(rng.integers(0, 20)), 3))
        parts.append(pd.DataFrame(noise, columns=["x_nm", "y_nm", "z_nm"]).assign(
            sequence=sequence))
    table = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)
    table.index = table.index * 3 + 7
    return table


@pytest.mark.parametrize("eps_z_nm", [None, 140.0])
def test_cluster_sequences_equals_serial_reference(eps_z_nm):
    table = blobs()
    kwargs = dict(eps_nm=80.0, min_samples=4, eps_z_nm=eps_z_nm)
    got = cluster_sequences(table, **kwargs)
    expected = serial_reference(table, **kwargs)
    pd.testing.assert_frame_equal(got, expected)
    assert list(got.columns) == ["sequence", "cluster_in_sequence"]
    assert got.index.equals(table.index)
    assert (got.dtypes == np.int64).all()
    assert got["cluster_in_sequence"].max() >= 1 and (got["cluster_in_sequence"] == -1).any()
    # The presorted path (slices) gives the same labels.
    ordered = table.sort_values("sequence", kind="stable")
    pd.testing.assert_frame_equal(cluster_sequences(ordered, **kwargs),
                                  serial_reference(ordered, **kwargs))


def test_sequences_are_clustered_separately():
    xyz = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [20.0, 0.0, 0.0]])
    table = pd.DataFrame(np.vstack([xyz, xyz]), columns=["x_nm", "y_nm", "z_nm"])
    table["sequence"] = [4, 4, 9, 9, 9, 9]  # 2 points in sequence 4, 4 in sequence 9
    got = cluster_sequences(table, eps_nm=15.0, min_samples=3)
    assert got["cluster_in_sequence"].tolist() == [-1, -1, 0, 0, 0, 0]


def test_anisotropic_eps_z():
    pair = pd.DataFrame({"x_nm": [500.0, 500.0], "y_nm": [300.0, 300.0],
                         "z_nm": [0.0, 100.0], "sequence": 0})
    assert dbscan_points(pair, eps_nm=80, min_samples=2, eps_z_nm=140).tolist() == [0, 0]
    assert dbscan_points(pair, eps_nm=80, min_samples=2).tolist() == [-1, -1]
    got = cluster_sequences(pair, eps_nm=80, min_samples=2, eps_z_nm=140)
    assert got["cluster_in_sequence"].tolist() == [0, 0]
    assert cluster_sequences(pair, eps_nm=80, min_samples=2)["cluster_in_sequence"] \
        .tolist() == [-1, -1]


def test_empty_input():
    empty = pd.DataFrame({"x_nm": [], "y_nm": [], "z_nm": [], "sequence": []})
    labels = dbscan_points(empty, eps_nm=80, min_samples=3)
    assert labels.dtype == np.int64 and labels.shape == (0,)
    got = cluster_sequences(empty, eps_nm=80, min_samples=3)
    assert len(got) == 0 and (got.dtypes == np.int64).all()
    pd.testing.assert_frame_equal(got, serial_reference(empty, eps_nm=80, min_samples=3))


def test_bad_input():
    table = blobs(2)
    with pytest.raises(InputError, match="no z_nm column"):
        cluster_sequences(table.drop(columns="z_nm"), eps_nm=80, min_samples=3)
    with pytest.raises(InputError, match="no sequence column"):
        cluster_sequences(table.drop(columns="sequence"), eps_nm=80, min_samples=3)
    with pytest.raises(InputError, match="sequence >= 0"):
        cluster_sequences(table.assign(sequence=-1), eps_nm=80, min_samples=3)
    with pytest.raises(InputError, match="non-finite"):
        cluster_sequences(table.assign(z_nm=np.nan), eps_nm=80, min_samples=3)
    with pytest.raises(InputError, match="--eps"):
        dbscan_points(table, eps_nm=0, min_samples=3)
    with pytest.raises(InputError, match="--eps-z"):
        cluster_sequences(table, eps_nm=80, min_samples=3, eps_z_nm=-5)
    with pytest.raises(InputError, match="--min-samples"):
        serial_reference(table, eps_nm=80, min_samples=0)
    with pytest.raises(InputError, match="no x_nm"):
        dbscan_points(pd.DataFrame({"y_nm": [1.0]}), eps_nm=80, min_samples=1)
