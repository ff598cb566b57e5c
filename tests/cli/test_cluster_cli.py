"""``smlmscale cluster`` and ``smlmscale info CLUSTERS`` through their real entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.io.tables import TableMeta
from tests.cli.helpers import assert_fails_with_one_line
from tests.cluster.data import PIXEL_NM, section_data, write_partitioned

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return section_data(tmp_path_factory.mktemp("cluster-cli"))


def _cluster(scheduler, *args):
    return runner.invoke(app, ["--scheduler", scheduler, "cluster", *map(str, args)])


def test_sequences_mode_and_info(scheduler, data, tmp_path):
    locs, rois, table = data
    out = tmp_path / "clusters"
    result = _cluster(scheduler, locs, "-o", out, "--rois", rois, "--eps", 80,
                      "--min-samples", 5, "--eps-z", 140, "--randomize", 1, "--seed", 3,
                      "--sequences-per-task", 3)
    assert result.exit_code == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"wrote {out}: ") and "clusters in 8 sequences" in last, last
    assert f"of {len(table)} localizations clustered" in last and last.endswith(" s")
    record = json.loads((out / "cluster.json").read_text())
    # the recorded command is sys.argv: pytest's own arguments under CliRunner
    assert record["command"].startswith("smlmscale") and record["settings"]["seed"] == 3
    assert (out / "randomized_properties.parquet").is_file()
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0, info.stderr
    for line in ("kind: clusters", "mode: sequences", "eps nm: 80", "min samples: 5",
                 f"clusters: {record['counts']['clusters']}", "sequences: 8",
                 f"localizations: {len(table)}", "files: cluster.json ("):
        assert line in info.stdout, (line, info.stdout)


def test_global_mode_and_info_json(scheduler, data, tmp_path):
    locs, _, table = data
    out = tmp_path / "g"
    result = _cluster(scheduler, locs, "-o", out, "--mode", "global", "--eps", 80,
                      "--min-samples", 5, "--section-thickness", 70, "--points-per-task", 500)
    assert result.exit_code == 0, result.stderr
    assert "blocks)" in result.stderr.strip().splitlines()[-1]
    info = runner.invoke(app, ["info", "--json", str(out)])
    summary = json.loads(info.stdout)
    assert summary["kind"] == "clusters" and summary["mode"] == "global"
    assert summary["localizations"] == len(table) and summary["clusters"] > 5
    assert summary["section_thickness_nm"] == 70.0
    # Run again over it: refused without --overwrite, replaced with it.
    before = (out / "cluster.json").read_text()
    again = _cluster(scheduler, locs, "-o", out, "--mode", "global")
    assert_fails_with_one_line(again, "output exists", "--overwrite")
    assert (out / "cluster.json").read_text() == before
    redo = _cluster(scheduler, locs, "-o", out, "--mode", "global", "--eps", 60,
                    "--overwrite")
    assert redo.exit_code == 0, redo.stderr
    assert json.loads((out / "cluster.json").read_text())["settings"]["eps_nm"] == 60.0
    assert not (tmp_path / "g.partial").exists()


@pytest.mark.parametrize("args, fragments", [
    ([], ["--mode sequences needs the ROI list", "--mode global"]),
    (["--rois", "{rois}", "--eps", "0"], ["--eps must be a distance > 0"]),
    (["--rois", "{rois}", "--min-samples", "0"], ["--min-samples must be an integer >= 1"]),
    (["--rois", "{rois}", "--eps-z", "-5"], ["--eps-z must be a distance > 0"]),
    (["--mode", "nearest"], ["--mode must be sequences or global"]),
    (["--rois", "{rois}", "--randomize", "-1"], ["--randomize must be at least 0"]),
    (["--rois", "{rois}", "--pixel-size", "0"], ["--pixel-size must be a positive number"]),
    (["--mode", "global", "--rois", "{rois}"], ["--rois goes with --mode sequences"]),
    (["--rois", "{missing}"], ["no such ROI list"]),
    (["--rois", "{bad_rois}"], ["has no x column"]),
    (["--rois", "{far_rois}"], ["sections 41-45 which the table does not have"]),
])
def test_bad_options_fail_with_one_line(scheduler, data, tmp_path, args, fragments):
    locs, rois, _ = data
    pd.read_csv(rois).drop(columns="x").to_csv(tmp_path / "bad.csv", index=False)
    far = pd.read_csv(rois).iloc[:5].assign(section=range(41, 46))
    far.to_csv(tmp_path / "far.csv", index=False)
    names = {"rois": rois, "missing": tmp_path / "none.csv", "bad_rois": tmp_path / "bad.csv",
             "far_rois": tmp_path / "far.csv"}
    args = [a.format(**names) for a in args]
    result = _cluster(scheduler, locs, "-o", tmp_path / "out", *args)
    assert_fails_with_one_line(result, *fragments)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_bad_inputs_fail_with_one_line(scheduler, data, tmp_path):
    locs, rois, table = data
    out = tmp_path / "out"
    assert_fails_with_one_line(_cluster(scheduler, tmp_path / "none.parquet", "-o", out,
                                        "--rois", rois), "no such file")
    (tmp_path / "notes.txt").write_text("free text\nnot a table\n")
    assert_fails_with_one_line(_cluster(scheduler, tmp_path / "notes.txt", "-o", out,
                                        "--rois", rois), "notes.txt")
    flat = write_partitioned(table.drop(columns="z_nm"), tmp_path / "flat.parquet",
                             TableMeta(pixel_size_nm=PIXEL_NM))
    assert_fails_with_one_line(_cluster(scheduler, flat, "-o", out, "--rois", rois),
                               "points without z or section", "flat.parquet")
    assert_fails_with_one_line(_cluster(scheduler, flat, "-o", out, "--mode", "global",
                                        "--section-thickness", "70"), "needs z_nm")
    out.write_text("keep")
    assert_fails_with_one_line(_cluster(scheduler, locs, "-o", out, "--rois", rois),
                               "writes a folder")
    assert out.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.parquet", "notes.txt", "out"]


def test_cluster_through_the_console_script(scheduler, data, tmp_path):
    locs, rois, _ = data
    exe = os.path.join(os.path.dirname(sys.executable), "smlmscale")
    done = subprocess.run([exe, "--scheduler", scheduler, "cluster", str(locs), "-o",
                           str(tmp_path / "c"), "--rois", str(rois), "--min-samples", "5"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "clusters in 8 sequences" in done.stderr.strip().splitlines()[-1]
    assert (tmp_path / "c" / "localizations.parquet").is_file()
    bad = subprocess.run([exe, "--scheduler", scheduler, "cluster", str(locs), "-o",
                          str(tmp_path / "x"), "--rois", str(rois), "--eps", "-1"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    lines = [line for line in bad.stderr.splitlines() if not line.startswith("dask: ")]
    assert len(lines) == 1 and lines[0].startswith("error: --eps"), bad.stderr


def test_help_defaults_come_from_the_settings():
    from smlmscale.cluster.settings import ClusterSettings
    from smlmscale.settings import field_names, flag_of, option_help

    helped = runner.invoke(app, ["cluster", "--help"], env={"COLUMNS": "250"})
    assert helped.exit_code == 0, helped.output
    text = " ".join(helped.stdout.replace("│", " ").split())
    for name in field_names(ClusterSettings):
        assert flag_of(ClusterSettings, name) in text, name
        assert option_help(ClusterSettings, name) in text, (name, text)
    assert "Lateral neighbourhood radius, nm [80]." in text
