"""plot_uncertainty_histogram: a PNG from tables, arrays, bins or dask; atomic; refusals."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.evaluate.uncertainty_plot import plot_uncertainty_histogram, uncertainty_histogram
from smlmscale.localize.uncertainty import bin_uncertainties, histogram_edges, sum_histograms


@pytest.fixture(scope="module")
def locs():
    rng = np.random.default_rng(0)
    n = 3000
    return pd.DataFrame({"uncertainty_x_nm": rng.gamma(3.0, 5.0, n),
                         "uncertainty_y_nm": rng.gamma(3.0, 5.0, n),
                         "uncertainty_z_nm": rng.gamma(3.0, 12.0, n)})


def _split(t, n):
    """``n`` consecutive row slices of a table."""
    bounds = np.linspace(0, len(t), n + 1).astype(int)
    return [t.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _read_png(path):
    from matplotlib.image import imread

    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0  # not a blank canvas
    return image


def test_table_with_a_cut(locs, tmp_path):
    path = tmp_path / "uncertainty.png"
    assert plot_uncertainty_histogram(locs, path, max_uncertainty_nm=20.0) == path
    wide = _read_png(path)
    assert [p.name for p in tmp_path.iterdir()] == ["uncertainty.png"]  # no temp file left
    lateral = tmp_path / "lateral.png"
    plot_uncertainty_histogram(locs.drop(columns="uncertainty_z_nm"), lateral)
    assert _read_png(lateral).shape[1] < wide.shape[1]  # two panels, not three


def test_prebinned_partitions_and_dask_give_the_same_bins(locs, tmp_path):
    edges = histogram_edges(20.0)
    parts = [bin_uncertainties(p, edges_nm=edges) for p in _split(locs, 4)]
    summed = sum_histograms(parts)
    lazy = uncertainty_histogram(dd.from_pandas(locs, npartitions=3), max_uncertainty_nm=20.0)
    arrays = {c: locs[c].to_numpy() for c in locs}
    direct = uncertainty_histogram(arrays, max_uncertainty_nm=20.0)
    np.testing.assert_array_equal(lazy.counts, summed.counts)
    np.testing.assert_array_equal(direct.counts, summed.counts)
    assert uncertainty_histogram(summed) is summed
    plot_uncertainty_histogram(summed, tmp_path / "binned.png", max_uncertainty_nm=20.0)
    _read_png(tmp_path / "binned.png")


def test_empty_table_and_refusals(locs, tmp_path):
    path = tmp_path / "empty.png"
    plot_uncertainty_histogram(locs.iloc[:0], path, max_uncertainty_nm=10.0)
    _read_png(path)
    with pytest.raises(InputError, match="overwrite"):
        plot_uncertainty_histogram(locs, path)
    plot_uncertainty_histogram(locs, path, overwrite=True)
    with pytest.raises(InputError, match="png"):
        plot_uncertainty_histogram(locs, tmp_path / "plot.jpg")
    with pytest.raises(InputError, match="no uncertainty"):
        plot_uncertainty_histogram(pd.DataFrame({"x_nm": [1.0]}), tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()
