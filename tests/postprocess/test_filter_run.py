"""``filter`` on the test cluster: kept rows and histograms against eager pandas/NumPy on
partitions that cut through the table, laziness, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.tables import read_table
from smlmscale.postprocess.filter import FilterSettings, filtered, prepare_filter, run_filter
from smlmscale.postprocess.histograms import column_histograms, column_ranges
from tests.drift.data import write_in_groups
from tests.helpers import raise_if_dask_computes
from tests.postprocess.reference import blinking_table

CUTS = (0, 41, 42, 130, 10**9)
WHERE = "photons > 500 and uncertainty_x_nm < 20"


@pytest.fixture(scope="module")
def table():
    return blinking_table(seed=8, frames=200, emitters=300)


@pytest.fixture(scope="module")
def locs(table, tmp_path_factory):
    return write_in_groups(table, tmp_path_factory.mktemp("filter") / "locs.parquet", cuts=CUTS)


def test_kept_rows_and_histograms_equal_eager(table, locs, tmp_path, client):
    plan = prepare_filter(locs, tmp_path / "kept.parquet", where=WHERE,
                          plot=tmp_path / "hist.png", settings=FilterSettings(bins=25),
                          blocksize=1)
    assert plan.table.npartitions == len(CUTS) - 1
    assert plan.columns == ("photons", "uncertainty_x_nm")
    result = run_filter(plan, client=client)
    expected = table.query(WHERE).reset_index(drop=True)
    kept, meta = read_table(tmp_path / "kept.parquet")
    pd.testing.assert_frame_equal(kept, expected)
    assert (result.kept, result.rows) == (len(expected), len(table))
    assert meta.extra["filter"] == WHERE
    assert (tmp_path / "hist.png").stat().st_size > 5000
    # the histograms: fixed range from the data, all rows then kept rows
    from smlmscale.postprocess.filter import histograms

    hist = histograms(plan, client=client)
    for i, column in enumerate(plan.columns):
        values = table[column].to_numpy()
        edges = np.linspace(values.min(), values.max(), 26)
        np.testing.assert_allclose(hist.edges[i], edges)
        np.testing.assert_array_equal(hist.counts[i, 0], np.histogram(values, edges)[0])
        np.testing.assert_array_equal(hist.counts[i, 1],
                                      np.histogram(expected[column], edges)[0])
    assert (hist.rows, hist.kept) == (len(table), len(expected))


def test_plot_alone_uses_confidence_and_photons(locs, tmp_path, client):
    plan = prepare_filter(locs, plot=tmp_path / "h.png")
    assert plan.columns == ("confidence", "photons")
    result = run_filter(plan, client=client)
    assert result.path is None and result.plot == str(tmp_path / "h.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.png"]
    other = prepare_filter(locs, plot=tmp_path / "r.png", columns=["roi", "frame"])
    assert other.columns == ("roi", "frame")


def test_graphs_stay_lazy(locs):
    plan = prepare_filter(locs, "unused.parquet", where=WHERE, blocksize=1)
    with raise_if_dask_computes():
        filtered(plan.table, plan.where)
        column_ranges(plan.table, ["photons"])
        column_histograms(plan.table, ["photons"], [np.linspace(0, 1, 3)], plan.where)


def test_bad_inputs(table, locs, tmp_path, client):
    out = tmp_path / "o.parquet"
    for kwargs, fragment in [({}, "nothing to write"),
                             ({"output": out}, "go together"),
                             ({"where": WHERE}, "go together"),
                             ({"output": out, "where": "bogus > 1"}, "no column 'bogus'"),
                             ({"output": out, "where": "photons +"}, "not a valid"),
                             ({"output": out, "where": "photons * 2"}, "not a condition"),
                             ({"plot": tmp_path / "h.jpg"}, ".png"),
                             ({"plot": tmp_path / "h.png", "columns": ["nope"]}, "--hist"),
                             ({"output": out, "where": WHERE, "columns": ["photons"]},
                              "--hist names the columns of --plot")]:
        with pytest.raises(InputError, match=fragment):
            prepare_filter(locs, **kwargs)
    plan = prepare_filter(locs, out, where="photons < 0", plot=tmp_path / "h.png")
    with pytest.raises(InputError, match="no localization satisfies"):
        run_filter(plan, client=client)
    plan = prepare_filter(locs, out, where="photons < 0")
    with pytest.raises(InputError, match="no localization satisfies"):
        run_filter(plan, client=client)
    table[["frame", "x_nm", "y_nm"]].to_csv(tmp_path / "plain.csv", index=False)
    with pytest.raises(InputError, match="no confidence or photons"):
        prepare_filter(tmp_path / "plain.csv", plot=tmp_path / "h.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.csv"]
