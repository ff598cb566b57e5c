"""``smlmscale resolution --frc`` through CliRunner: the printed resolution, curve and plot,
bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.io.tables import TableMeta, write_table
from tests.cli.helpers import assert_fails_with_one_line
from tests.resolution.data import line_table

runner = CliRunner()


@pytest.fixture(scope="module")
def locs(tmp_path_factory):
    path = tmp_path_factory.mktemp("frc") / "locs.csv"
    write_table(line_table(sigma_nm=8.0, emitters=2000), path, meta=TableMeta())
    return path


def _resolution(scheduler, *args, quiet=False):
    return runner.invoke(app, ["--quiet"] * quiet + ["--scheduler", scheduler, "resolution",
                                                     *map(str, args)])


def test_prints_the_resolution_and_writes_curve_and_plot(scheduler, locs, tmp_path):
    curve, plot = tmp_path / "frc.csv", tmp_path / "frc.png"
    result = _resolution(scheduler, locs, "--frc", "--pixel-size", "5", "--plot", plot,
                         "--curve-out", curve)
    assert result.exit_code == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("FRC resolution ") and line.endswith(" nm (1/7 threshold)")
    value = float(line.split()[2])
    assert 12 < value < 48
    assert "random split into " in result.stderr and f"wrote {curve}, {plot}" in result.stderr
    table = pd.read_csv(curve)
    assert list(table.columns) == ["frequency_per_nm", "resolution_nm", "frc"]
    assert 0.098 < table.frequency_per_nm.iloc[-1] <= 0.1          # Nyquist of 5 nm
    assert plot.stat().st_size > 1000
    quiet = _resolution(scheduler, locs, "--split", "frames", "--block-frames", "20", quiet=True)
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert quiet.stdout.startswith("FRC resolution ")
    seeded = _resolution(scheduler, locs, "--seed", "4", "--smooth", "1", quiet=True)
    assert seeded.exit_code == 0 and seeded.stdout != result.stdout


def test_bad_inputs_exit_2_and_overwrite_nothing(scheduler, locs, tmp_path):
    plot = tmp_path / "frc.png"
    plot.write_bytes(b"keep")
    assert_fails_with_one_line(_resolution(scheduler, locs, "--plot", plot), "frc.png",
                               "--overwrite")
    assert plot.read_bytes() == b"keep"
    curve = tmp_path / "c.csv"
    nan = tmp_path / "nan.csv"
    table = line_table(sigma_nm=8.0, emitters=300)
    table.loc[3, "y_nm"] = np.inf
    table.to_csv(nan, index=False)
    assert_fails_with_one_line(_resolution(scheduler, nan, "--curve-out", curve), "nan.csv",
                               "NaN or infinite")
    few = tmp_path / "few.csv"
    table.iloc[10:50].to_csv(few, index=False)
    assert_fails_with_one_line(_resolution(scheduler, few, "--curve-out", curve), "few.csv",
                               "at least 100 localizations")
    assert_fails_with_one_line(_resolution(scheduler, locs, "--split", "emitter"), "--split")
    assert_fails_with_one_line(_resolution(scheduler, locs, "--pixel-size", "0"),
                               "--pixel-size")
    assert_fails_with_one_line(_resolution(scheduler, locs, "--split", "frames",
                                           "--block-frames", "100000"), "halves hold",
                               "--block-frames")
    missing = tmp_path / "missing.parquet"
    assert_fails_with_one_line(_resolution(scheduler, missing), "missing.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few.csv", "frc.png", "nan.csv"]


def test_a_curve_that_never_crosses(scheduler, tmp_path):
    # each emitter twice, 0.1 nm apart: both halves hold the same points, FRC ~1 to Nyquist
    path = tmp_path / "sharp.csv"
    write_table(line_table(sigma_nm=0.1, emitters=3000), path, meta=TableMeta())
    result = _resolution(scheduler, path, "--pixel-size", "5", "--plot", tmp_path / "f.png",
                         quiet=True)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("FRC resolution below 10 nm: the curve stays above 1/7")
    assert (tmp_path / "f.png").stat().st_size > 1000
