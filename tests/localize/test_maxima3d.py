"""3D local maxima and centroids (deepstorm3d), and z from z-binned densities."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.localize.maxima3d import find_maxima_3d
from smlmscale.localize.zbins import bin_centres, bin_profiles, z_from_profiles


def _blob(shape, centre, sigma=1.2, peak=10.0):
    grids = np.meshgrid(*[np.arange(n) + 0.5 for n in shape], indexing="ij")
    d2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
    return peak * np.exp(-0.5 * d2 / sigma ** 2)


def _reference(volume, threshold, radius):
    """The seed's rule, voxel by voxel: above threshold, maximum of its cube, centroid."""
    values = np.maximum(volume, 0)
    kept = np.where(values > threshold, values, 0)
    padded, r = np.pad(kept, radius), radius
    raw = np.pad(values, radius)
    out = []
    for i, j, k in zip(*np.nonzero(kept)):
        cube = padded[i:i + 2 * r + 1, j:j + 2 * r + 1, k:k + 2 * r + 1]
        if kept[i, j, k] < cube.max():
            continue
        around = raw[i:i + 2 * r + 1, j:j + 2 * r + 1, k:k + 2 * r + 1]
        d = np.arange(-r, r + 1)
        centroid = [(around * np.expand_dims(d, tuple(a for a in range(3) if a != ax))).sum()
                    / around.sum() for ax in range(3)]
        out.append((i + 0.5 + centroid[0], j + 0.5 + centroid[1], k + 0.5 + centroid[2],
                    values[i, j, k]))
    return np.array(out).reshape(-1, 4)


def test_maxima_and_centroids_equal_a_voxel_loop():
    volume = (_blob((24, 20, 11), (6.3, 5.1, 3.7)) + _blob((24, 20, 11), (15.8, 14.2, 8.4), peak=6)
              + _blob((24, 20, 11), (20.0, 3.0, 9.9), peak=0.5))  # below the threshold
    volume += np.random.default_rng(0).normal(0, 0.01, volume.shape)
    found = find_maxima_3d(volume, threshold=1.0, radius=3)
    want = _reference(volume, 1.0, 3)
    assert len(found) == len(want) == 2
    np.testing.assert_allclose(np.stack([found.row, found.col, found.slice, found.peak], 1),
                               want, rtol=1e-6, atol=1e-6)
    # the centroid recovers a symmetric blob's sub-voxel centre
    clean = find_maxima_3d(_blob((24, 20, 11), (6.3, 5.1, 3.7)), threshold=1.0, radius=4)
    np.testing.assert_allclose([clean.row[0], clean.col[0], clean.slice[0]],
                               [6.3, 5.1, 3.7], atol=0.05)
    assert clean.peak_row.tolist() == [6] and clean.peak_slice.tolist() == [3]


def test_plateaus_give_one_candidate_and_empty_grids_none():
    grid = np.zeros((6, 6, 6))
    grid[2, 2, 2:4] = 5.0
    found = find_maxima_3d(grid, threshold=0.0, radius=2)
    assert len(found) == 1 and found.peak_slice.tolist() == [2]
    assert found.slice[0] == pytest.approx(3.0)
    assert len(find_maxima_3d(np.zeros((4, 4, 3)), threshold=0.0, radius=1)) == 0
    with pytest.raises(ValueError):
        find_maxima_3d(grid, threshold=0.0, radius=-1)


def test_z_of_a_hand_built_z_binned_map():
    """A blob in bins 2 and 3 of 6 (-600:600 nm, 200 nm bins): the weighted centre."""
    centres = bin_centres((-600.0, 600.0), 6)
    assert centres.tolist() == [-500.0, -300.0, -100.0, 100.0, 300.0, 500.0]
    blob = _blob((1, 12, 12), (0.5, 4.5, 6.5))[0]
    weights = np.array([0.0, 0.1, 0.6, 0.3, 0.0, 0.0])
    density = blob[None, ..., None] * weights  # (1, 12, 12, 6)
    profiles = bin_profiles(density, np.array([0]), np.array([4]), np.array([6]))
    np.testing.assert_allclose(profiles[0], blob[3:6, 5:8].sum() * weights)
    z = z_from_profiles(profiles, centres)
    assert z[0] == pytest.approx((0.1 * -300 + 0.6 * -100 + 0.3 * 100) / 1.0)
    # the winning bin at the edge has one neighbour
    edge = z_from_profiles(np.array([[-1.0, 0.0, 0.0, 0.0, 1.0, 3.0]]), centres)
    assert edge[0] == pytest.approx((300 + 3 * 500) / 4)
    assert z_from_profiles(np.zeros((1, 6)), centres)[0] == -500.0
    # a maximum at the image corner reads zeros beyond the edge
    corner = bin_profiles(density, np.array([0]), np.array([0]), np.array([11]))
    np.testing.assert_allclose(corner[0], blob[0:2, 10:12].sum() * weights)
