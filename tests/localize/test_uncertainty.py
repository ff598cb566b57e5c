"""Filtering by predicted uncertainty (pandas, lazy dask), binning by partition, z-score spread."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.evaluate.run import MatchedPairs
from smlmscale.localize.uncertainty import (UncertaintyHistogram, bin_uncertainties,
                                            filter_by_uncertainty, histogram_edges,
                                            histogram_graph, sum_histograms, zscore_spread)
from tests.helpers import raise_if_dask_computes


def _split(t, n):
    """``n`` consecutive row slices of a table."""
    bounds = np.linspace(0, len(t), n + 1).astype(int)
    return [t.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def table(n=500, *, is_3d=False, seed=0):
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({"frame": np.arange(n) // 10, "x_nm": rng.uniform(0, 1e4, n),
                        "y_nm": rng.uniform(0, 1e4, n),
                        "uncertainty_x_nm": rng.gamma(3.0, 6.0, n),
                        "uncertainty_y_nm": rng.gamma(3.0, 6.0, n)})
    if is_3d:
        out["uncertainty_z_nm"] = rng.gamma(3.0, 15.0, n)
    out.loc[[3, 40], "uncertainty_x_nm"] = np.nan
    out.loc[7, "uncertainty_y_nm"] = np.nan
    return out


def naive_keep(t, limit):
    cols = [c for c in ("uncertainty_x_nm", "uncertainty_y_nm", "uncertainty_z_nm") if c in t]
    return [i for i, row in t.iterrows()
            if all(np.isfinite(row[c]) and row[c] <= limit for c in cols)]


@pytest.mark.parametrize("is_3d", [False, True])
def test_filter_pandas(is_3d):
    t = table(is_3d=is_3d)
    t.loc[11, ["uncertainty_x_nm", "uncertainty_y_nm"]] = 20.0  # on the cut: kept
    if is_3d:
        t.loc[11, "uncertainty_z_nm"] = 20.0
    got = filter_by_uncertainty(t, 20.0)
    assert got.index.tolist() == naive_keep(t, 20.0)
    assert 11 in got.index and not {3, 7, 40} & set(got.index)
    assert 0 < len(got) < len(t)
    pd.testing.assert_frame_equal(got, t.loc[got.index])
    assert filter_by_uncertainty(t, None) is t


def test_filter_dask_is_lazy_and_equal():
    t = table(is_3d=True)
    ddf = dd.from_pandas(t, npartitions=4)
    with raise_if_dask_computes():
        lazy = filter_by_uncertainty(ddf, 25.0)
    assert isinstance(lazy, dd.DataFrame)
    pd.testing.assert_frame_equal(lazy.compute(), filter_by_uncertainty(t, 25.0))


def test_filter_refuses_bad_input():
    with pytest.raises(InputError, match="positive") as info:
        filter_by_uncertainty(table(), 0.0)
    assert info.value.param == "max_uncertainty_nm"
    with pytest.raises(InputError, match="no uncertainty"):
        filter_by_uncertainty(pd.DataFrame({"x_nm": [1.0], "uncertainty_x_nm": [1.0]}), 5.0)


def test_edges():
    assert histogram_edges().tolist() == np.linspace(0, 100, 201).tolist()
    for cut in (3.7, 17.3, 64.0, 230.0):
        edges = histogram_edges(cut)
        assert cut in edges and edges[0] == 0 and edges[-1] >= max(100, 2 * cut) - 1e-9
        assert np.all(np.diff(edges) > 0) and 150 <= len(edges) - 1 <= 800


@pytest.mark.parametrize("is_3d", [False, True])
def test_partition_bins_add_up_to_the_whole(is_3d):
    t = table(2000, is_3d=is_3d, seed=2)
    t.loc[5, "uncertainty_y_nm"] = 1e4   # above the range
    t.loc[6, "uncertainty_x_nm"] = -1.0  # invalid
    edges = histogram_edges(30.0)
    whole = bin_uncertainties(t, edges_nm=edges)
    assert whole.total == len(t)
    assert whole.columns == tuple(c for c in t.columns if c.startswith("uncertainty"))
    x = t["uncertainty_x_nm"].to_numpy()
    np.testing.assert_array_equal(whole.counts[0],
                                  np.histogram(x[np.isfinite(x) & (x >= 0)], edges)[0])
    assert whole.invalid[0] == 3 and whole.above[1] == 1 and whole.invalid[1] == 1
    parts = [bin_uncertainties(part, edges_nm=edges) for part in _split(t, 5)]
    summed = sum_histograms(parts)
    for name in ("counts", "above", "invalid"):
        np.testing.assert_array_equal(getattr(summed, name), getattr(whole, name))
    ddf = dd.from_pandas(t, npartitions=3)
    with raise_if_dask_computes():
        lazy = histogram_graph(ddf, edges_nm=edges)
    np.testing.assert_array_equal(lazy.compute().counts, whole.counts)
    arrays = {c: t[c].to_numpy() for c in whole.columns}
    np.testing.assert_array_equal(bin_uncertainties(arrays, edges_nm=edges).counts, whole.counts)


def test_histograms_of_other_bins_do_not_add():
    t = table()
    a = bin_uncertainties(t, edges_nm=histogram_edges())
    b = bin_uncertainties(t, edges_nm=histogram_edges(80.0))
    with pytest.raises(ValueError, match="same"):
        a + b
    with pytest.raises(ValueError, match="no histograms"):
        sum_histograms([])
    assert isinstance(a + a, UncertaintyHistogram) and (a + a).total == 2 * len(t)


def synthetic_pairs(n, *, scale, seed=0, is_3d=True):
    """Pairs whose errors are drawn from sigmas ``scale`` times the predicted ones."""
    rng = np.random.default_rng(seed)
    pred = pd.DataFrame({"uncertainty_x_nm": rng.uniform(3, 30, n),
                         "uncertainty_y_nm": rng.uniform(3, 30, n),
                         "uncertainty_z_nm": rng.uniform(10, 60, n),
                         "photons": rng.uniform(1000, 4000, n),
                         "uncertainty_photons": rng.uniform(50, 200, n)})
    order = rng.permutation(n)  # pairs index the prediction table in any order
    truth = pd.DataFrame({"photons": pred["photons"].to_numpy()[order]
                          - scale * pred["uncertainty_photons"].to_numpy()[order]
                          * rng.standard_normal(n)})
    errors = {a: scale * pred[f"uncertainty_{a}_nm"].to_numpy()[order] * rng.standard_normal(n)
              for a in "xyz"}
    pairs = MatchedPairs(truth_index=np.arange(n), pred_index=order,
                         distance_nm=np.hypot(errors["x"], errors["y"]), dx_nm=errors["x"],
                         dy_nm=errors["y"], dz_nm=errors["z"] if is_3d else None)
    return pairs, pred, truth


@pytest.mark.parametrize("scale", [1.0, 0.5, 2.0])
def test_zscore_spread_measures_the_calibration(scale):
    pairs, pred, truth = synthetic_pairs(20000, scale=scale)
    spread = zscore_spread(pairs, pred, truth=truth)
    assert spread["pairs"] == 20000
    for axis in ("x", "y", "z", "photons"):
        assert spread[f"zscore_std_{axis}"] == pytest.approx(scale, rel=0.03)
        assert abs(spread[f"zscore_mean_{axis}"]) < 0.05 * scale
        assert spread[f"zscore_pairs_{axis}"] == 20000
    calibrated = 0.8 <= spread["zscore_std_x"] <= 1.25
    assert calibrated == (scale == 1.0)


def test_zscore_spread_columns_in_the_pairs_and_bad_sigmas():
    pairs, pred, _ = synthetic_pairs(1000, scale=1.0, is_3d=False)
    sigma = pred.iloc[pairs.pred_index]
    joined = pd.DataFrame({"dx_nm": pairs.dx_nm, "dy_nm": pairs.dy_nm,
                           "uncertainty_x_nm": sigma["uncertainty_x_nm"].to_numpy(),
                           "uncertainty_y_nm": sigma["uncertainty_y_nm"].to_numpy()})
    joined.loc[:9, "uncertainty_x_nm"] = np.nan
    joined.loc[10:19, "uncertainty_x_nm"] = 0.0
    spread = zscore_spread(joined)
    assert "zscore_std_z" not in spread and "zscore_std_photons" not in spread
    assert spread["zscore_pairs_x"] == 980 and spread["zscore_pairs_y"] == 1000
    assert spread == zscore_spread({c: joined[c].to_numpy() for c in joined})
    empty = zscore_spread(joined.iloc[:1])
    assert empty["zscore_std_y"] is None and empty["pairs"] == 1
