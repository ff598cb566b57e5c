"""cluster_properties and property_summary: hand-computed shapes, degenerate hulls, 2D tables."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import ConvexHull

from smlmscale.cluster.properties import (PROPERTY_COLUMNS, SUMMARY_COLUMNS, cluster_properties,
                                          hull_measures, property_summary)
from smlmscale.errors import InputError


def _table(xyz, cluster, **extra):
    xyz = np.asarray(xyz, dtype=np.float64)
    frame = pd.DataFrame({"x_nm": xyz[:, 0], "y_nm": xyz[:, 1], "z_nm": xyz[:, 2]})
    frame["cluster"] = np.broadcast_to(np.asarray(cluster, dtype=np.int64), len(frame))
    for name, value in extra.items():
        frame[name] = value
    return frame


CUBE = np.array([(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
SQUARE = np.array([(0, 0), (100, 0), (0, 100), (100, 100), (50, 50)], dtype=float)


def test_scaled_cube():
    p = cluster_properties(_table(20.0 * CUBE + [100, 200, 300], 3))
    assert list(p.columns) == list(PROPERTY_COLUMNS) and len(p) == 1
    assert p.cluster.dtype == np.int64 and p.n_localizations.dtype == np.int64
    row = p.iloc[0]
    assert row.cluster == 3 and row.n_localizations == 8
    assert (row.x_nm, row.y_nm, row.z_nm) == pytest.approx((110.0, 210.0, 310.0))
    assert (row.extent_x_nm, row.extent_y_nm, row.extent_z_nm) == (20.0, 20.0, 20.0)
    assert row.radius_of_gyration_nm == pytest.approx(10.0 * math.sqrt(3))
    assert row.hull_volume_nm3 == pytest.approx(8000.0)
    assert row.hull_area_nm2 == pytest.approx(2400.0)
    assert row.projected_area_nm2 == pytest.approx(400.0)
    assert row.density_per_um3 == pytest.approx(8 / 8000e-9)  # 8 points in 8000 nm^3
    assert row.sections == 2  # no section column, no thickness: distinct z values
    assert math.isnan(row.nearest_cluster_nm)  # one cluster


def test_one_section_square_is_a_prism_with_thickness():
    points = np.column_stack([SQUARE, np.full(5, 35.0)])
    table = _table(points, 0, section=np.zeros(5, dtype=np.int64))
    row = cluster_properties(table, section_thickness_nm=70.0).iloc[0]
    assert row.hull_volume_nm3 == pytest.approx(100 * 100 * 70)
    assert row.hull_area_nm2 == pytest.approx(2 * 100 * 100 + 4 * 100 * 70)
    assert row.density_per_um3 == pytest.approx(5 / (700_000 * 1e-9))
    assert row.extent_z_nm == 0.0 and row.sections == 1 and row.z_nm == 35.0
    # Without the thickness the same cluster is a flat plate: no volume, both faces.
    flat = cluster_properties(table).iloc[0]
    assert flat.hull_volume_nm3 == 0.0 and math.isnan(flat.density_per_um3)
    assert flat.hull_area_nm2 == pytest.approx(2 * 100 * 100)
    assert flat.projected_area_nm2 == pytest.approx(100 * 100)


def test_two_sections_with_thickness_span_both_slabs():
    points = np.vstack([np.column_stack([SQUARE, np.full(5, 35.0)]),
                        np.column_stack([SQUARE, np.full(5, 105.0)])])
    row = cluster_properties(_table(points, 0), section_thickness_nm=70.0).iloc[0]
    assert row.hull_volume_nm3 == pytest.approx(100 * 100 * 140)
    assert row.sections == 2  # floor(z / t) without a section column


def test_degenerate_clusters():
    two = _table([(0, 0, 0), (30, 40, 0)], 0)
    line = _table([(k, 2 * k, 3 * k) for k in range(5)], 1)
    triangle = _table([(0, 0, 0), (10, 0, 0), (0, 10, 0)], 2)
    tilted = _table([(0, 0, 0), (10, 0, 10), (0, 10, 0), (10, 10, 10)], 3)  # plane z = x
    single = _table([(7, 8, 9)], 4)
    p = cluster_properties(pd.concat([two, line, triangle, tilted, single])).set_index("cluster")
    assert (p.hull_volume_nm3 == 0).all() and p.density_per_um3.isna().all()
    assert p.loc[0, "hull_area_nm2"] == 0 and p.loc[0, "projected_area_nm2"] == 0
    assert p.loc[0, "radius_of_gyration_nm"] == pytest.approx(25.0)
    assert (p.loc[0, "extent_x_nm"], p.loc[0, "extent_y_nm"]) == (30.0, 40.0)
    assert p.loc[1, "hull_area_nm2"] == 0 and p.loc[1, "projected_area_nm2"] == 0
    assert p.loc[2, "hull_area_nm2"] == pytest.approx(2 * 50.0)
    assert p.loc[2, "projected_area_nm2"] == pytest.approx(50.0)
    assert p.loc[3, "hull_area_nm2"] == pytest.approx(2 * 10 * 10 * math.sqrt(2))
    assert p.loc[3, "projected_area_nm2"] == pytest.approx(100.0)
    assert p.loc[4].tolist()[:4] == [1, 7.0, 8.0, 9.0]
    assert p.loc[4, "radius_of_gyration_nm"] == 0 and p.loc[4, "hull_area_nm2"] == 0


def test_duplicate_points_and_hull_measures_helper():
    assert hull_measures(np.zeros((6, 3))) == (0.0, 0.0)
    doubled = np.vstack([10 * CUBE, 10 * CUBE])
    assert hull_measures(doubled) == pytest.approx((1000.0, 600.0))


def test_noise_excluded_and_labels_sorted():
    cube = _table(10 * CUBE, 5)
    noise = _table([(1e4, 1e4, 1e4), (-1e4, 0, 0)], -1)
    other = _table(10 * CUBE + 1000, 2)
    table = pd.concat([cube.iloc[:4], noise, other, cube.iloc[4:]], ignore_index=True)
    p = cluster_properties(table)
    assert p.cluster.tolist() == [2, 5] and p.n_localizations.tolist() == [8, 8]
    assert p.hull_volume_nm3.tolist() == pytest.approx([1000.0, 1000.0])
    assert p.x_nm.tolist() == pytest.approx([1005.0, 5.0])


def test_nearest_cluster_distance_three_clusters():
    centres = [(0, 0, 0), (30, 40, 0), (0, 0, 100)]
    table = pd.concat([_table(2 * CUBE - 1 + c, k) for k, c in enumerate(centres)])
    p = cluster_properties(table)
    assert p.nearest_cluster_nm.tolist() == pytest.approx([50.0, 50.0, 100.0])


def test_sections_from_section_column():
    z = np.array([35.0, 35.0, 105.0, 175.0])
    table = _table(np.column_stack([[0, 10, 0, 10], [0, 0, 10, 10], z]), 0,
                   section=np.array([0, 0, 1, 2], dtype=np.int64))
    assert cluster_properties(table).sections.tolist() == [3.0]


def test_2d_table():
    table = pd.DataFrame({"x_nm": SQUARE[:, 0], "y_nm": SQUARE[:, 1],
                          "cluster": np.array([0, 0, 0, 0, -1])})
    row = cluster_properties(table).iloc[0]
    assert row.n_localizations == 4 and (row.x_nm, row.y_nm) == (50.0, 50.0)
    assert row.projected_area_nm2 == pytest.approx(10_000.0)
    assert row.radius_of_gyration_nm == pytest.approx(50 * math.sqrt(2))
    for column in ("z_nm", "extent_z_nm", "hull_volume_nm3", "hull_area_nm2",
                   "density_per_um3", "sections", "nearest_cluster_nm"):
        assert math.isnan(row[column]), column
    # A z_nm column of NaN only is a 2D table too.
    nan_z = cluster_properties(table.assign(z_nm=np.nan)).iloc[0]
    assert nan_z.projected_area_nm2 == pytest.approx(10_000.0) and math.isnan(nan_z.z_nm)


def test_matches_a_per_cluster_reference_and_custom_label():
    rng = np.random.default_rng(7)
    table = pd.DataFrame(rng.normal(0, 100, (400, 3)), columns=["x_nm", "y_nm", "z_nm"])
    table["dbscan"] = rng.integers(-1, 6, 400)
    p = cluster_properties(table, label="dbscan")
    assert p.cluster.tolist() == list(range(6))
    for row in p.itertuples():
        pts = table.loc[table.dbscan == row.cluster, ["x_nm", "y_nm", "z_nm"]].to_numpy()
        centre = pts.mean(axis=0)
        assert (row.x_nm, row.y_nm, row.z_nm) == pytest.approx(tuple(centre))
        rg = math.sqrt(((pts - centre) ** 2).sum(axis=1).mean())
        assert row.radius_of_gyration_nm == pytest.approx(rg)
        hull = ConvexHull(pts)
        assert (row.hull_volume_nm3, row.hull_area_nm2) == pytest.approx(
            (hull.volume, hull.area))
        assert row.projected_area_nm2 == pytest.approx(ConvexHull(pts[:, :2]).volume)
        assert row.extent_y_nm == pytest.approx(np.ptp(pts[:, 1]))


def test_empty_and_all_noise():
    empty = cluster_properties(_table(10 * CUBE, -1))
    assert empty.empty and list(empty.columns) == list(PROPERTY_COLUMNS)
    assert empty.cluster.dtype == np.int64


@pytest.mark.parametrize("change, match", [
    (lambda t: t.drop(columns="cluster"), "no column cluster"),
    (lambda t: t.astype({"cluster": float}), "integers"),
    (lambda t: t.assign(x_nm=[np.nan] + [0.0] * 7), "non-finite"),
])
def test_bad_tables(change, match):
    with pytest.raises(InputError, match=match):
        cluster_properties(change(_table(10 * CUBE, 0)))


@pytest.mark.parametrize("thickness", [0.0, -70.0, float("nan"), "70"])
def test_bad_thickness(thickness):
    with pytest.raises(InputError, match="thickness"):
        cluster_properties(_table(10 * CUBE, 0), section_thickness_nm=thickness)


def test_thickness_needs_z():
    table = _table(10 * CUBE, 0).drop(columns="z_nm")
    with pytest.raises(InputError, match="needs z_nm"):
        cluster_properties(table, section_thickness_nm=70.0)


def test_property_summary():
    props = pd.DataFrame({"cluster": [0, 1, 2, 3, 4], "repeat": [0] * 5,
                          "n_localizations": np.array([1, 2, 3, 4, 5], dtype=np.int64),
                          "hull_volume_nm3": [10.0, np.nan, 30.0, np.nan, np.nan],
                          "note": list("abcde")})
    s = property_summary(props)
    assert list(s.columns) == list(SUMMARY_COLUMNS) and s.index.name == "property"
    assert s.index.tolist() == ["n_localizations", "hull_volume_nm3"]
    n = s.loc["n_localizations"]
    assert n["count"] == 5 and n["mean"] == 3.0 and n["median"] == 3.0
    assert n["std"] == pytest.approx(math.sqrt(2.5))
    assert (n["p05"], n["p95"]) == pytest.approx((1.2, 4.8))
    v = s.loc["hull_volume_nm3"]
    assert v["count"] == 2 and v["mean"] == 20.0 and v["p95"] == pytest.approx(29.0)
    empty = property_summary(cluster_properties(_table(CUBE, -1)))
    assert (empty["count"] == 0).all() and empty["mean"].isna().all()
