"""Predicted counts -> 3D points: conservation of counts, coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.localize.counts import POINT_COLUMNS, counts_to_points, integer_counts


@pytest.mark.parametrize("seed", range(20))
def test_integer_counts_conserve_the_total(seed):
    rng = np.random.default_rng(seed)
    counts = rng.gamma(0.3, 1.0, size=(17, 13)) * rng.integers(0, 2, size=(17, 13))
    n = integer_counts(counts)
    assert n.dtype == np.int64 and n.shape == counts.shape
    assert n.sum() == round(counts.sum())
    assert (np.abs(n - counts) < 1).all() and (n >= 0).all()


def test_integer_counts_edge_cases():
    assert integer_counts(np.zeros((3, 3))).sum() == 0
    assert integer_counts(np.full(4, 0.2)).tolist() == [1, 0, 0, 0]  # 0.8 -> 1 point
    assert integer_counts(np.array([2.0, 3.0])).tolist() == [2, 3]
    assert integer_counts(np.array([-1.0, 1.5])).tolist() == [0, 2]  # negatives count as 0


def test_points_sit_at_pixel_centres_and_section_midplanes():
    counts = np.zeros((2, 4, 4))
    counts[0, 1, 2] = 2.0   # tile 0: two points in pixel (row 1, col 2)
    counts[1, 3, 0] = 0.9   # tile 1: one point
    counts[1, 0, 0] = 0.05  # below min_count
    table = counts_to_points(counts, xs=[10, 0], ys=[20, 5], sections=[3, 7], rois=[11, 12],
                             pixel_size_nm=100.0, section_thickness_nm=70.0, min_count=0.1)
    assert list(table.columns) == list(POINT_COLUMNS)
    assert len(table) == 3
    first = table.iloc[0]
    assert (first.x_nm, first.y_nm, first.z_nm) == (1250.0, 2150.0, 245.0)
    assert first.section == 3 and first.frame == 3 and first.roi == 11 and first.confidence == 2.0
    last = table.iloc[2]
    assert (last.x_nm, last.y_nm, last.z_nm, last.roi) == (50.0, 850.0, 525.0, 12)
    assert table.dtypes["section"] == np.int64 and table.dtypes["roi"] == np.int64


def test_conservation_per_tile_after_threshold():
    rng = np.random.default_rng(3)
    counts = rng.gamma(0.5, 1.0, size=(5, 8, 8))
    table = counts_to_points(counts, xs=np.zeros(5), ys=np.zeros(5), sections=np.arange(5),
                             rois=np.arange(5) + 100, pixel_size_nm=10.0,
                             section_thickness_nm=50.0, min_count=0.3)
    kept = np.where(counts >= 0.3, counts, 0.0).sum(axis=(1, 2))
    per_roi = table.groupby("roi").size().reindex(np.arange(5) + 100, fill_value=0)
    assert per_roi.tolist() == [round(k) for k in kept]


def test_no_tiles_give_an_empty_table():
    table = counts_to_points(np.zeros((0, 4, 4)), xs=[], ys=[], sections=[], rois=[],
                             pixel_size_nm=10.0, section_thickness_nm=70.0)
    assert len(table) == 0 and list(table.columns) == list(POINT_COLUMNS)
