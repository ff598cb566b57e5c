"""``smlmscale undrift`` through CliRunner: outputs, formats, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.drift.simulate import drift_rmse_nm, true_drift
from smlmscale.io.tables import read_table
from tests.cli.helpers import assert_fails_with_one_line
from tests.drift.data import small_table, write_in_groups

runner = CliRunner()
OPTIONS = ["--segment", "100", "--max-shift", "300"]


@pytest.fixture(scope="module")
def locs(tmp_path_factory):
    return write_in_groups(small_table(seed=2), tmp_path_factory.mktemp("undrift") / "l.parquet")


def _undrift(scheduler, *args, quiet=False):
    return runner.invoke(app, ["--quiet"] * quiet + ["--scheduler", scheduler, "undrift",
                                                     *map(str, args)])


def test_undrift_writes_table_curve_and_plot(scheduler, locs, tmp_path):
    out = tmp_path / "locs_undrifted.hdf5"
    result = _undrift(scheduler, locs, "-o", out, *OPTIONS, "--method", "rcc",
                      "--plot", tmp_path / "drift.png")
    assert result.exit_code == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"wrote {out}: 40000 localizations, drift up to ")
    assert "over 8 segments (28/28 pairs kept)" in last
    curve = pd.read_csv(tmp_path / "locs_undrifted_drift.csv")
    truth = true_drift(np.arange(800), frames=800)
    assert drift_rmse_nm(curve[["dx_nm", "dy_nm"]].to_numpy(), truth) < 3.0
    table, _ = read_table(out)                         # Picasso HDF5 + YAML, any format
    assert len(table) == 40000 and (tmp_path / "locs_undrifted.yaml").is_file()
    assert (tmp_path / "drift.png").stat().st_size > 1000
    drift_out = tmp_path / "curve.csv"
    again = _undrift(scheduler, locs, "-o", tmp_path / "b.parquet", *OPTIONS,
                     "--drift-out", drift_out, quiet=True)
    assert again.exit_code == 0 and again.stderr == ""
    np.testing.assert_allclose(pd.read_csv(drift_out).to_numpy(), curve.to_numpy())


def test_bad_inputs_exit_2_and_overwrite_nothing(scheduler, locs, tmp_path):
    out = tmp_path / "out.parquet"
    out.write_bytes(b"keep")
    result = _undrift(scheduler, locs, "-o", out, *OPTIONS)
    assert_fails_with_one_line(result, "out.parquet", "--overwrite")
    assert out.read_bytes() == b"keep"
    fresh = tmp_path / "fresh.parquet"
    assert_fails_with_one_line(_undrift(scheduler, locs, "-o", fresh, "--segment", "500"),
                               "fewer than two segments", "--segment")
    assert_fails_with_one_line(_undrift(scheduler, locs, "-o", fresh, "--method", "aim"),
                               "rcc")
    assert_fails_with_one_line(_undrift(scheduler, locs, "-o", fresh, "--segment", "0"),
                               "--segment")
    noframe = tmp_path / "noframe.csv"
    pd.DataFrame({"x_nm": [1.0, 2.0], "y_nm": [1.0, 2.0]}).to_csv(noframe, index=False)
    assert_fails_with_one_line(_undrift(scheduler, noframe, "-o", fresh), "noframe.csv")
    nan = tmp_path / "nan.csv"
    table = small_table(rows=3000)
    table.loc[5, "y_nm"] = np.nan
    table.to_csv(nan, index=False)
    assert_fails_with_one_line(_undrift(scheduler, nan, "-o", fresh, *OPTIONS), "nan.csv",
                               "NaN")
    empty = tmp_path / "empty.csv"
    table.iloc[:0].to_csv(empty, index=False)
    assert_fails_with_one_line(_undrift(scheduler, empty, "-o", fresh), "empty.csv")
    assert not fresh.exists() and not (tmp_path / "fresh_drift.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv", "nan.csv", "noframe.csv",
                                                          "out.parquet"]
