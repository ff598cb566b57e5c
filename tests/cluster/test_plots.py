"""plot_property_histograms: a readable PNG, atomic writing, empty and 2D tables, bad input."""

import numpy as np
import pandas as pd
import pytest

from smlmscale.cluster.plots import DEFAULT_COLUMNS, plot_property_histograms
from smlmscale.cluster.properties import cluster_properties
from smlmscale.cluster.randomize import randomized_properties
from smlmscale.errors import InputError


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    parts = [pd.DataFrame(rng.normal(0, 50, (40, 3)) + [1500 * c, 0, 500],
                          columns=["x_nm", "y_nm", "z_nm"]).assign(cluster=c) for c in range(6)]
    return pd.concat(parts, ignore_index=True)


def _read_png(path):
    from matplotlib.image import imread

    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return image


def test_real_and_randomized(points, tmp_path):
    real = cluster_properties(points)
    randomized = randomized_properties(points, repeats=3, seed=0)
    path = tmp_path / "properties.png"
    assert plot_property_histograms(real, randomized, path) is None
    image = _read_png(path)
    assert image.std() > 0  # not a blank canvas
    assert [p.name for p in tmp_path.iterdir()] == ["properties.png"]  # no temp file left


def test_real_only_and_custom_columns(points, tmp_path):
    real = cluster_properties(points)
    path = tmp_path / "real.png"
    plot_property_histograms(real, None, path, columns=["radius_of_gyration_nm"])
    _read_png(path)
    assert [p.name for p in tmp_path.iterdir()] == ["real.png"]


def test_empty_table_writes_a_figure(tmp_path):
    """Documented choice: no clusters is not an error; the panels say "no clusters"."""
    empty = cluster_properties(pd.DataFrame({"x_nm": [0.0], "y_nm": [0.0], "z_nm": [0.0],
                                             "cluster": [-1]}))
    path = tmp_path / "empty.png"
    plot_property_histograms(empty, empty.assign(repeat=pd.Series([], dtype=np.int64)), path)
    _read_png(path)
    plot_property_histograms(empty, None, path, overwrite=True, columns=["sections"])
    _read_png(path)


def test_2d_table_with_nan_columns(points, tmp_path):
    flat = points.drop(columns="z_nm")
    real = cluster_properties(flat)
    randomized = randomized_properties(flat, repeats=2, seed=1)
    path = tmp_path / "flat.png"
    plot_property_histograms(real, randomized, path, columns=DEFAULT_COLUMNS)
    _read_png(path)


def test_bad_input(points, tmp_path):
    real = cluster_properties(points)
    with pytest.raises(InputError, match="png"):
        plot_property_histograms(real, None, tmp_path / "plot.jpg")
    with pytest.raises(InputError, match="no column"):
        plot_property_histograms(real, None, tmp_path / "plot.png", columns=["nope"])
    with pytest.raises(InputError, match="no properties"):
        plot_property_histograms(real, None, tmp_path / "plot.png", columns=[])
    with pytest.raises(InputError, match="does not exist"):
        plot_property_histograms(real, None, tmp_path / "missing" / "plot.png")
    with pytest.raises(InputError, match="DataFrame"):
        plot_property_histograms([1, 2], None, tmp_path / "plot.png")
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    with pytest.raises(InputError, match="exists"):
        plot_property_histograms(real, None, path)
    assert path.read_bytes() == b"old"
    plot_property_histograms(real, None, path, overwrite=True)
    _read_png(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]
