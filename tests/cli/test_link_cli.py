"""``smlmscale link`` through CliRunner: merged and labelled outputs, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.io.tables import read_table
from tests.cli.helpers import assert_fails_with_one_line
from tests.drift.data import write_in_groups
from tests.postprocess.reference import blinking_table, link_reference

runner = CliRunner()


@pytest.fixture(scope="module")
def table():
    return blinking_table(seed=4, frames=200, emitters=200, noise=100)


@pytest.fixture(scope="module")
def locs(table, tmp_path_factory):
    return write_in_groups(table, tmp_path_factory.mktemp("linkcli") / "locs.parquet",
                           cuts=(0, 77, 10**9))


def _link(scheduler, *args, quiet=False):
    return runner.invoke(app, ["--quiet"] * quiet + ["--scheduler", scheduler, "link",
                                                     *map(str, args)])


def test_link_merges_and_keeps_all(scheduler, table, locs, tmp_path):
    out = tmp_path / "linked.parquet"
    result = _link(scheduler, locs, "-o", out, "--radius", "50", "--max-dark", "1")
    assert result.exit_code == 0, result.stderr
    ref = link_reference(table, radius_nm=50.0, max_dark=1)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"wrote {out}: {ref.max() + 1} merged rows; {ref.max() + 1} "
                           f"tracks from {len(table)} localizations")
    merged, meta = read_table(out)
    assert len(merged) == ref.max() + 1 and meta.extra["link"]["max_dark"] == 1
    np.testing.assert_array_equal(merged["n_frames"], np.bincount(ref))
    labelled = tmp_path / "all.csv"
    again = _link(scheduler, locs, "-o", labelled, "--keep-all", "--format", "csv",
                  "--radius", "50", quiet=True)
    assert again.exit_code == 0 and again.stderr == ""
    rows = pd.read_csv(labelled)
    np.testing.assert_array_equal(rows["track_id"], ref)


def test_bad_inputs_exit_2_and_overwrite_nothing(scheduler, table, locs, tmp_path):
    out = tmp_path / "out.parquet"
    out.write_bytes(b"keep")
    assert_fails_with_one_line(_link(scheduler, locs, "-o", out), "out.parquet",
                               "--overwrite")
    assert out.read_bytes() == b"keep"
    fresh = tmp_path / "fresh.parquet"
    assert_fails_with_one_line(_link(scheduler, locs, "-o", fresh, "--radius", "-5"),
                               "--radius")
    assert_fails_with_one_line(_link(scheduler, locs, "-o", fresh, "--max-dark", "-1"),
                               "--max-dark")
    assert_fails_with_one_line(_link(scheduler, locs, "-o", fresh, "--weights", "mass"),
                               "--weights")
    noy = tmp_path / "noy.csv"
    table[["frame", "x_nm"]].to_csv(noy, index=False)
    assert_fails_with_one_line(_link(scheduler, noy, "-o", fresh), "noy.csv", "y_nm")
    nan = tmp_path / "nan.csv"
    table.assign(y_nm=table.y_nm.where(table.index != 7)).to_csv(nan, index=False)
    assert_fails_with_one_line(_link(scheduler, nan, "-o", fresh), "nan.csv", "NaN")
    empty = tmp_path / "empty.csv"
    table.iloc[:0].to_csv(empty, index=False)
    assert_fails_with_one_line(_link(scheduler, empty, "-o", fresh), "empty.csv")
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv", "nan.csv", "noy.csv",
                                                          "out.parquet"]
