"""randomize_clusters and randomized_properties: counts, hulls, sections, seeds, fallbacks."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import Delaunay

from smlmscale.cluster.properties import PROPERTY_COLUMNS, cluster_properties
from smlmscale.cluster.randomize import randomize_clusters, randomized_properties
from smlmscale.errors import InputError

T = 70.0


def _clusters(seed=0, n_clusters=4, sections=False):
    """Gaussian 3D clusters 2 um apart (z at section centres when ``sections``), plus noise."""
    rng = np.random.default_rng(seed)
    parts = []
    for c in range(n_clusters):
        n = int(rng.integers(20, 80))
        xyz = rng.normal(0, [60, 40, 80], (n, 3)) + [2000 * c, 0, 1000]
        if sections:
            section = np.floor(xyz[:, 2] / T).astype(np.int64)
            xyz[:, 2] = (section + 0.5) * T
        part = pd.DataFrame(xyz, columns=["x_nm", "y_nm", "z_nm"]).assign(cluster=c)
        if sections:
            part["section"] = section
        parts.append(part)
    noise = pd.DataFrame(rng.uniform(0, 8000, (30, 3)), columns=["x_nm", "y_nm", "z_nm"])
    noise["cluster"] = -1
    if sections:
        noise["section"] = np.floor(noise.z_nm / T).astype(np.int64)
        noise["z_nm"] = (noise.section + 0.5) * T
    return pd.concat(parts + [noise], ignore_index=True).sample(frac=1, random_state=seed)


def _xyz(frame):
    return frame[["x_nm", "y_nm", "z_nm"]].to_numpy()


def test_counts_preserved_per_cluster_and_repeat():
    points = _clusters()
    out = randomize_clusters(points, repeats=3, seed=5)
    assert list(out.columns) == ["repeat", "cluster", "x_nm", "y_nm", "z_nm"]
    assert out.repeat.dtype == np.int64 and out.cluster.dtype == np.int64
    real = points[points.cluster >= 0].groupby("cluster").size()
    counts = out.groupby(["repeat", "cluster"]).size()
    assert sorted(out.repeat.unique()) == [0, 1, 2] and -1 not in out.cluster.values
    for repeat in range(3):
        assert counts.loc[repeat].equals(real)
    assert out[["repeat", "cluster"]].equals(
        out[["repeat", "cluster"]].sort_values(["repeat", "cluster"], kind="stable"))


def test_points_inside_the_hull_and_spread_over_it():
    points = _clusters()
    out = randomize_clusters(points, repeats=4, seed=1)
    for cluster, part in out.groupby("cluster"):
        hull = Delaunay(_xyz(points[points.cluster == cluster]))
        assert (hull.find_simplex(_xyz(part)) >= 0).all()
    # Uniform in a box-shaped hull: about half of the points in each half.
    box = pd.DataFrame(np.random.default_rng(0).uniform(0, 100, (400, 3)),
                       columns=["x_nm", "y_nm", "z_nm"]).assign(cluster=0)
    drawn = randomize_clusters(box, repeats=5, seed=2)
    assert abs((drawn.x_nm < 50).mean() - 0.5) < 0.05
    assert abs((drawn.z_nm < 50).mean() - 0.5) < 0.05


def test_sections_snapped_to_centres_inside_the_slabs():
    points = _clusters(sections=True)
    out = randomize_clusters(points, repeats=3, seed=4, section_thickness_nm=T)
    assert list(out.columns) == ["repeat", "cluster", "x_nm", "y_nm", "z_nm", "section"]
    assert out.section.dtype == np.int64
    assert np.allclose(out.z_nm, (out.section + 0.5) * T)
    assert (out.section == np.floor(out.z_nm / T)).all()
    for cluster, part in out.groupby("cluster"):
        own = points[points.cluster == cluster]
        assert own.section.min() <= part.section.min()
        assert part.section.max() <= own.section.max()
        xy = Delaunay(own[["x_nm", "y_nm"]].to_numpy())
        assert (xy.find_simplex(part[["x_nm", "y_nm"]].to_numpy()) >= 0).all()
    # Several sections are used, not only the cluster's central one.
    assert out.groupby("cluster").section.nunique().min() >= 3


def test_one_section_cluster_stays_in_its_section_with_thickness():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 200, (30, 2))
    points = pd.DataFrame({"x_nm": xy[:, 0], "y_nm": xy[:, 1], "z_nm": 7.5 * T,
                           "section": 7, "cluster": 0})
    out = randomize_clusters(points, repeats=2, seed=0, section_thickness_nm=T)
    assert (out.section == 7).all() and (out.z_nm == 7.5 * T).all()
    assert not np.allclose(out.x_nm.to_numpy()[:30], xy[:, 0])  # the points did move
    assert (Delaunay(xy).find_simplex(out[["x_nm", "y_nm"]].to_numpy()) >= 0).all()


def test_deterministic_for_a_seed():
    points = _clusters(sections=True)
    a = randomize_clusters(points, repeats=2, seed=11, section_thickness_nm=T)
    b = randomize_clusters(points.sample(frac=1, random_state=9), repeats=2, seed=11,
                           section_thickness_nm=T)
    c = randomize_clusters(points, repeats=2, seed=12, section_thickness_nm=T)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.x_nm, c.x_nm)


def test_independent_of_the_cluster_subset():
    points = _clusters(n_clusters=5)
    everything = randomize_clusters(points, repeats=3, seed=8)
    subset = randomize_clusters(points[points.cluster.isin([1, 3])], repeats=3, seed=8)
    expected = everything[everything.cluster.isin([1, 3])].reset_index(drop=True)
    pd.testing.assert_frame_equal(subset.reset_index(drop=True), expected)


def test_repeats_differ_and_extend():
    points = _clusters()
    two = randomize_clusters(points, repeats=2, seed=3)
    three = randomize_clusters(points, repeats=3, seed=3)
    first = three[three.repeat < 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(two, first)  # more repeats append, never reshuffle
    r0 = three[three.repeat == 0].x_nm.to_numpy()
    r1 = three[three.repeat == 1].x_nm.to_numpy()
    assert not np.allclose(r0, r1)


def test_degenerate_fallbacks():
    flat = pd.DataFrame({"x_nm": [0.0, 100, 0, 100, 50], "y_nm": [0.0, 0, 100, 100, 20],
                         "z_nm": 35.0, "cluster": 0})
    line = pd.DataFrame({"x_nm": [0.0, 10, 20, 30], "y_nm": [0.0, 20, 40, 60],
                         "z_nm": [0.0, 70, 70, 140], "cluster": 1})
    single = pd.DataFrame({"x_nm": [5.0], "y_nm": [6.0], "z_nm": [7.0], "cluster": 2})
    out = randomize_clusters(pd.concat([flat, line, single]), repeats=4, seed=0)
    f = out[out.cluster == 0]
    assert (f.z_nm == 35.0).all()  # z drawn from the cluster's own z values
    assert (Delaunay(flat[["x_nm", "y_nm"]].to_numpy()).find_simplex(
        f[["x_nm", "y_nm"]].to_numpy()) >= 0).all()
    g = out[out.cluster == 1]
    assert np.allclose(g.y_nm, 2 * g.x_nm) and g.x_nm.between(0, 30).all()
    assert set(g.z_nm) <= {0.0, 70.0, 140.0}
    s = out[out.cluster == 2]
    assert len(s) == 4 and (s[["x_nm", "y_nm", "z_nm"]].to_numpy() == [5, 6, 7]).all()


def test_2d_table():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100, (40, 2))
    points = pd.DataFrame({"x_nm": xy[:, 0], "y_nm": xy[:, 1], "cluster": 0})
    out = randomize_clusters(points, repeats=2, seed=0)
    assert len(out) == 80 and out.z_nm.isna().all()
    assert (Delaunay(xy).find_simplex(out[["x_nm", "y_nm"]].to_numpy()) >= 0).all()
    props = randomized_properties(points, repeats=2, seed=0)
    assert props.hull_volume_nm3.isna().all() and (props.projected_area_nm2 > 0).all()


def test_randomized_properties():
    points = _clusters(sections=True)
    props = randomized_properties(points, repeats=3, seed=2, section_thickness_nm=T)
    assert list(props.columns) == ["repeat", *PROPERTY_COLUMNS]
    assert props.repeat.tolist() == sorted(props.repeat.tolist())
    real = cluster_properties(points, section_thickness_nm=T)
    for repeat, part in props.groupby("repeat"):
        assert part.cluster.tolist() == real.cluster.tolist()
        assert part.n_localizations.tolist() == real.n_localizations.tolist()
    # Without a thickness the random points lie in the hull: their hull is no larger.
    plain = randomized_properties(points, repeats=2, seed=2)
    real = cluster_properties(points).set_index("cluster")
    for row in plain.itertuples():
        assert row.hull_volume_nm3 <= real.loc[row.cluster, "hull_volume_nm3"] * (1 + 1e-9)
    empty = randomized_properties(points[points.cluster < 0], repeats=2, seed=0)
    assert empty.empty and list(empty.columns) == ["repeat", *PROPERTY_COLUMNS]


@pytest.mark.parametrize("repeats, seed", [(0, 1), (2, -1), (1.5, 0), (True, 0), (2, "a")])
def test_bad_repeats_or_seed(repeats, seed):
    with pytest.raises(InputError, match="repeats|seed"):
        randomize_clusters(_clusters(), repeats=repeats, seed=seed)
