"""Exact partitioned DBSCAN: labels identical to scikit-learn's, in memory and over Dask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import DBSCAN

from smlmscale.cluster.blocks import BlockPlan, plan_blocks
from smlmscale.cluster.dbscan_global import dbscan_blocks_numpy, dbscan_global
from smlmscale.cluster.dbscan_kernels import halo_width
from smlmscale.cluster.unionfind import union_find
from smlmscale.errors import InputError


def sklearn_dbscan(points, eps, min_samples):
    model = DBSCAN(eps=eps, min_samples=min_samples).fit(points)
    core = np.zeros(len(points), bool)
    core[model.core_sample_indices_] = True
    return model.labels_.astype(np.int64), core


def assert_same(points, eps, min_samples, block_points, kinds=()):
    """Labels and core flags equal scikit-learn's; ``kinds`` of points must all occur."""
    got, core = dbscan_blocks_numpy(points, eps=eps, min_samples=min_samples,
                                    block_points=block_points, return_core=True)
    want, want_core = sklearn_dbscan(points, eps, min_samples)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(core, want_core)
    assert got.dtype == np.int64
    present = {"core": want_core.any(), "noise": (want < 0).any(),
               "border": ((want >= 0) & ~want_core).any(), "clusters": want.max() >= 1}
    assert all(present[k] for k in kinds), present
    return got


def gaussian_clusters(n_clusters, per, sigma, box, seed, noise=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, box, (n_clusters, len(box)))
    points = np.repeat(centres, per, axis=0) + rng.normal(0, sigma, (n_clusters * per, len(box)))
    points = np.concatenate([points, rng.uniform(0, box, (noise, len(box)))])
    return points[rng.permutation(len(points))]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("block_points", [40, 300, 10_000])
def test_uniform_3d_equals_sklearn(seed, block_points):
    points = np.random.default_rng(seed).uniform(0, [400, 400, 100], (2500, 3))
    assert_same(points, 12.0, 4, block_points, kinds=("core", "noise", "border", "clusters"))


@pytest.mark.parametrize("block_points", [100, 700, 100_000])
def test_gaussian_clusters_straddling_blocks(block_points):
    points = gaussian_clusters(40, 60, 25.0, (2000, 2000, 300), seed=3, noise=600)
    assert plan_blocks(points, n_points=len(points), block_points=100).n_blocks >= 20
    assert_same(points, 40.0, 6, block_points, kinds=("noise", "border", "clusters"))


def grid_plan(x_edges, y_edges):
    return BlockPlan(np.asarray(x_edges, float), tuple(np.asarray(y_edges, float)
                                                       for _ in range(len(x_edges) + 1)))


def test_empty_blocks_between_far_groups():
    rng = np.random.default_rng(5)
    near = rng.normal(0, 20, (600, 3))
    far = rng.normal(0, 20, (600, 3)) + [1e6, 5e5, 0]
    points = np.concatenate([near, far])[rng.permutation(1200)]
    plan = grid_plan(np.linspace(-30, 1e6 + 30, 25), np.linspace(-30, 5e5 + 30, 9))
    owners = np.bincount(plan.owner(points), minlength=plan.n_blocks)
    assert plan.n_blocks == 260 and (owners == 0).sum() > 200 and (owners > 0).sum() >= 8
    want = sklearn_dbscan(points, 8.0, 5)[0]
    for block_plan in (plan, None):
        got = dbscan_blocks_numpy(points, eps=8.0, min_samples=5, block_points=50,
                                  plan=block_plan)
        np.testing.assert_array_equal(got, want)
    assert (want < 0).any() and want.max() >= 1


@pytest.mark.parametrize("width", [0.3, 2.5, 11.0])
def test_boxes_of_any_width(width):
    # boxes narrower than eps (and than the halo) are cut through the clusters
    points = gaussian_clusters(12, 40, 6.0, (120, 120, 30), seed=6, noise=300)
    plan = grid_plan(np.arange(50, 62, width), np.arange(50, 62, 2 * width))
    want, want_core = sklearn_dbscan(points, 5.0, 5)
    got, core = dbscan_blocks_numpy(points, eps=5.0, min_samples=5, plan=plan,
                                    return_core=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(core, want_core)


@pytest.mark.parametrize("seed", range(3))
def test_2d_points(seed):
    points = gaussian_clusters(15, 40, 10.0, (500, 500), seed=seed, noise=400)
    assert_same(points, 9.0, 5, 120, kinds=("noise", "border", "clusters"))


def test_duplicate_points():
    rng = np.random.default_rng(7)
    base = np.round(rng.uniform(0, 40, (300, 3)))
    points = np.concatenate([base, base[:150], base[:40], np.zeros((25, 3))])
    points = points[rng.permutation(len(points))]
    for min_samples in (2, 3, 5, 30):
        assert_same(points, 3.0, min_samples, 60)


def test_min_samples_one_has_no_noise():
    points = np.random.default_rng(8).uniform(0, 300, (1500, 3))
    labels = assert_same(points, 10.0, 1, 100)
    assert (labels >= 0).all() and labels.max() > 10


def test_single_point():
    for min_samples in (1, 2):
        assert_same(np.array([[3.0, 4.0, 5.0]]), 1.0, min_samples, 10)


@pytest.mark.parametrize("block_points", [5, 30, 1000])
def test_points_at_exactly_eps(block_points):
    # integer grids: neighbours at exactly eps along the axes and (3, 4, 0) triangles
    rng = np.random.default_rng(9)
    points = np.concatenate([np.argwhere(np.ones((6, 6, 3))) * 5.0,
                             rng.integers(0, 12, (200, 3)) * [3.0, 4.0, 5.0]])
    points = points[rng.permutation(len(points))]
    for min_samples in (2, 4, 6, 7):
        assert_same(points, 5.0, min_samples, block_points)
    square = np.argwhere(np.ones((10, 10))) * 2.0        # 4 neighbours at exactly eps
    for min_samples in (4, 5, 6):
        assert_same(square, 2.0, min_samples, 7)


def test_border_point_gets_the_cluster_with_the_first_core_point():
    # border b at x=-1 reaches core -2 of cluster L and core 0 of cluster R (both at
    # exactly eps); it has 3 < 4 neighbours itself
    left, right, border = [-2.6, -2.4, -2.2, -2.0], [0.0, 0.2, 0.4, 0.6], [-1.0]
    x = np.array(left + right + border)
    points = np.stack([x, np.zeros_like(x)], axis=1)
    rng = np.random.default_rng(10)
    for trial in range(30):
        order = rng.permutation(len(x))
        shuffled = points[order]
        got = assert_same(shuffled, 1.0, 4, [2, 4, 100][trial % 3], kinds=("border",))
        row = {value: i for i, value in enumerate(order)}
        first_left = min(row[i] for i in range(4))
        first_right = min(row[i] for i in range(4, 8))
        winner = 0 if first_left < first_right else 4
        assert got[row[8]] == got[row[winner]]
        assert got[row[winner]] == 0


def test_union_find_matches_connected_components():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(11)
    n = 5000
    a, b = rng.integers(0, n, 4000), rng.integers(0, n, 4000)
    roots = union_find(n, a, b)
    _, labels = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)))
    assert len(np.unique(np.stack([roots, labels]), axis=1)[0]) == len(np.unique(labels))
    assert (roots <= np.arange(n)).all() and (roots[roots] == roots).all()


def test_route_owns_once_and_halo_is_complete():
    rng = np.random.default_rng(12)
    points = rng.uniform(0, 100, (3000, 3))
    plan = plan_blocks(points, n_points=3000, block_points=100)
    routes = plan.route(points, halo=halo_width(4.0))
    owned = np.concatenate([own for own, _ in routes])
    assert np.array_equal(np.sort(owned), np.arange(3000))
    for b, (own, halo) in enumerate(routes):
        lo, hi = plan.box(b, 3)
        assert ((points[own] >= lo) & (points[own] < hi)).all()
        gap = np.maximum(np.maximum(lo - points, points - hi), 0).max(axis=1)
        expected = np.setdiff1d(np.flatnonzero(gap <= 8.0), own)
        assert np.isin(expected, halo).all()


# --- Dask -------------------------------------------------------------------------------

def localization_table(seed=13):
    points = gaussian_clusters(30, 50, [25.0, 25.0, 60.0], (3000, 3000, 600), seed=seed,
                               noise=700)
    return pd.DataFrame(points, columns=["x_nm", "y_nm", "z_nm"]).assign(
        photons=np.arange(len(points), dtype=np.float64))


class RecordingClient:
    """A client that records the bytes of every array the driver gathers."""

    def __init__(self, client):
        self._client = client
        self.gathered = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def gather(self, futures):
        result = self._client.gather(futures)
        self.gathered += _nbytes(result)
        return result


def _nbytes(value):
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sum(_nbytes(getattr(value, f)) for f in value.__dataclass_fields__)
    return 0


def test_dbscan_global_equals_sklearn_anisotropic(client):
    import dask.dataframe as dd

    table = localization_table()
    points = dd.from_pandas(table, npartitions=5)
    recording = RecordingClient(client)
    result = dbscan_global(points, client=recording, eps_nm=40.0, eps_z_nm=100.0,
                           min_samples=5, block_points=400)
    scaled = table[["x_nm", "y_nm", "z_nm"]].to_numpy() * [1.0, 1.0, 40.0 / 100.0]
    want, want_core = sklearn_dbscan(scaled, 40.0, 5)
    out = result.attach(points).compute()
    np.testing.assert_array_equal(out["cluster"].to_numpy(), want)
    np.testing.assert_array_equal(out["core"].to_numpy(), want_core)
    assert out["cluster"].dtype == np.int64 and out["core"].dtype == bool
    pd.testing.assert_frame_equal(out[table.columns], table)
    labels = result.labels.compute()
    np.testing.assert_array_equal(labels["cluster"].to_numpy(), want)
    assert result.labels.npartitions == 5
    assert result.n_clusters == want.max() + 1 and result.n_noise == (want < 0).sum()
    assert result.n_core == want_core.sum() and result.n_blocks >= 5
    assert (want >= 0).sum() > want_core.sum() and result.seconds > 0


def test_driver_gets_links_not_the_table(client):
    import dask.dataframe as dd

    rng = np.random.default_rng(15)
    table = pd.DataFrame(np.concatenate([
        gaussian_clusters(300, 40, 30.0, (20_000, 20_000, 600), seed=15),
        rng.uniform(0, [20_000, 20_000, 600], (8000, 3))]), columns=["x_nm", "y_nm", "z_nm"])
    recording = RecordingClient(client)
    result = dbscan_global(dd.from_pandas(table, npartitions=4), client=recording,
                           eps_nm=50.0, min_samples=5, block_points=5000)
    n = len(table)
    assert result.n_blocks >= 4 and result.n_clusters > 100
    assert 0 < result.n_shared < n / 10          # boundary core points only
    assert recording.gathered < 6 * n            # the coordinates are 24 bytes a row
    want, _ = sklearn_dbscan(table.to_numpy(), 50.0, 5)
    np.testing.assert_array_equal(result.labels.compute()["cluster"].to_numpy(), want)


def test_dbscan_global_2d_without_z(client):
    import dask.dataframe as dd

    table = localization_table(seed=14)
    result = dbscan_global(dd.from_pandas(table, npartitions=3), client=client, eps_nm=30.0,
                           min_samples=4, use_z=False, block_points=1000)
    want, _ = sklearn_dbscan(table[["x_nm", "y_nm"]].to_numpy(), 30.0, 4)
    np.testing.assert_array_equal(result.labels.compute()["cluster"].to_numpy(), want)


@pytest.mark.parametrize("eps", [0.0, -5.0, float("nan")])
def test_bad_eps(eps, client):
    import dask.dataframe as dd

    with pytest.raises(InputError, match="--eps"):
        dbscan_blocks_numpy(np.zeros((3, 3)), eps=eps, min_samples=2)
    with pytest.raises(InputError, match="--eps"):
        dbscan_global(dd.from_pandas(localization_table(), npartitions=2), client=client,
                      eps_nm=eps, min_samples=2)


def test_empty_and_nan_tables(client):
    import dask.dataframe as dd

    with pytest.raises(InputError, match="no localizations"):
        dbscan_blocks_numpy(np.empty((0, 3)), eps=5.0, min_samples=2)
    empty = localization_table().iloc[:0]
    with pytest.raises(InputError, match="no localizations"):
        dbscan_global(dd.from_pandas(empty, npartitions=1), client=client, eps_nm=5.0,
                      min_samples=2)
    table = localization_table()
    table.loc[[3, 10, 400], "z_nm"] = np.nan
    with pytest.raises(InputError, match="^3 rows have NaN"):
        dbscan_global(dd.from_pandas(table, npartitions=4), client=client, eps_nm=5.0,
                      min_samples=2)
    with pytest.raises(InputError, match="^3 rows have NaN"):
        dbscan_blocks_numpy(table[["x_nm", "y_nm", "z_nm"]].to_numpy(), eps=5.0,
                            min_samples=2)
    with pytest.raises(InputError, match="y_nm"):
        dbscan_global(dd.from_pandas(table[["x_nm"]], npartitions=1), client=client,
                      eps_nm=5.0, min_samples=2)
