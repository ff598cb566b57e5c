"""``smlmscale filter`` through CliRunner: kept rows, histograms, bad inputs."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.io.tables import read_table
from tests.cli.helpers import assert_fails_with_one_line
from tests.drift.data import write_in_groups
from tests.postprocess.reference import blinking_table

runner = CliRunner()
WHERE = "photons > 500 and uncertainty_x_nm < 20"


@pytest.fixture(scope="module")
def table():
    return blinking_table(seed=6, frames=150, emitters=200, noise=100)


@pytest.fixture(scope="module")
def locs(table, tmp_path_factory):
    return write_in_groups(table, tmp_path_factory.mktemp("filtercli") / "locs.parquet",
                           cuts=(0, 61, 10**9))


def _filter(scheduler, *args, quiet=False):
    return runner.invoke(app, ["--quiet"] * quiet + ["--scheduler", scheduler, "filter",
                                                     *map(str, args)])


def test_filter_writes_kept_rows_and_histograms(scheduler, table, locs, tmp_path):
    out, png = tmp_path / "kept.csv", tmp_path / "hist.png"
    result = _filter(scheduler, locs, "-o", out, "--format", "csv", "--where", WHERE,
                     "--plot", png, "--bins", "30")
    assert result.exit_code == 0, result.stderr
    expected = table.query(WHERE).reset_index(drop=True)
    lines = result.stderr.strip().splitlines()
    assert lines[-2] == f"wrote {out}: {len(expected)} of {len(table)} localizations kept"
    assert lines[-1] == (f"wrote {png}: histograms of photons, uncertainty_x_nm "
                         f"({len(table)} localizations)")
    pd.testing.assert_frame_equal(read_table(out, format="csv")[0], expected,
                                  check_dtype=False)
    assert png.stat().st_size > 5000
    only = _filter(scheduler, locs, "--plot", tmp_path / "c.png", "--hist",
                   "confidence, roi", quiet=True)
    assert only.exit_code == 0 and only.stderr == ""
    assert (tmp_path / "c.png").is_file()


def test_bad_inputs_exit_2_and_overwrite_nothing(scheduler, table, locs, tmp_path):
    out = tmp_path / "out.parquet"
    out.write_bytes(b"keep")
    assert_fails_with_one_line(_filter(scheduler, locs, "-o", out, "--where", WHERE),
                               "out.parquet", "--overwrite")
    assert out.read_bytes() == b"keep"
    fresh = tmp_path / "fresh.parquet"
    for where, fragment in [("bogus > 3", "no column 'bogus'"),
                            ("photons >", "not a valid expression"),
                            ("photons * 2", "not a condition"),
                            ("abs(photons) > 3", "function call"),
                            ("photons < 0", "no localization satisfies")]:
        assert_fails_with_one_line(_filter(scheduler, locs, "-o", fresh, "--where", where),
                                   fragment)
    assert_fails_with_one_line(_filter(scheduler, locs, "-o", fresh), "--where")
    assert_fails_with_one_line(_filter(scheduler, locs), "nothing to write")
    assert_fails_with_one_line(_filter(scheduler, locs, "--plot", tmp_path / "h.png",
                                       "--hist", "nope"), "--hist", "nope")
    assert_fails_with_one_line(_filter(scheduler, locs, "--plot", tmp_path / "h.png",
                                       "--bins", "0"), "--bins")
    nan = tmp_path / "nan.csv"
    table.assign(x_nm=table.x_nm.where(table.index != 3)).to_csv(nan, index=False)
    assert_fails_with_one_line(_filter(scheduler, nan, "-o", fresh, "--where", WHERE),
                               "nan.csv", "NaN")
    empty = tmp_path / "empty.csv"
    table.iloc[:0].to_csv(empty, index=False)
    assert_fails_with_one_line(_filter(scheduler, empty, "-o", fresh, "--where", WHERE),
                               "empty.csv")
    assert not fresh.exists() and not (tmp_path / "h.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv", "nan.csv",
                                                          "out.parquet"]
