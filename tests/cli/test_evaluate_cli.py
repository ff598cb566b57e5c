"""``smlmscale evaluate``: summary, --json, --plot, the cluster paths, and exit code 2."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app

TRUTH = ("frame,x_nm,y_nm,z_nm,photons,sigma_nm\n"
         "0,100,100,0,1000,120\n0,1000,1000,50,1000,120\n1,500,500,-40,2000,120\n"
         "3,50,50,0,500,120\n")
PRED = "frame,x_nm,y_nm\n0,110,95\n0,1240,1000\n1,520,490\n2,50,50\n"
KEYS = {"jaccard", "precision", "recall", "f1", "rmse_lateral_nm", "rmse_axial_nm",
        "efficiency_lateral", "efficiency_axial", "tp", "fp", "fn", "n_truth", "n_pred"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def tables(tmp_path):
    truth, pred = tmp_path / "truth.csv", tmp_path / "locs.csv"
    truth.write_text(TRUTH)
    pred.write_text(PRED)
    return truth, pred


def _lines(text):
    return [line for line in text.splitlines() if line.strip()]


def test_summary_is_aligned(runner, tables):
    truth, pred = tables
    result = runner.invoke(app, ["evaluate", str(pred), "--truth", str(truth),
                                 "--pixel-size", "100"])
    assert result.exit_code == 0, result.output
    lines = _lines(result.stdout)
    assert lines[0].startswith("truth ") and "4 localizations" in lines[0]
    assert any(line.startswith("TP / FP / FN") and line.endswith("3 / 1 / 1") for line in lines)
    assert any(line.startswith("Jaccard") and line.endswith("0.6000") for line in lines)
    column = lines[0].index("4 localizations")  # every value starts in this column
    assert all(line[column - 2:column] == "  " and line[column] != " " for line in lines)
    # the truth has z, the prediction not
    assert "the prediction table has no z_nm: lateral metrics only" in result.stderr


def test_json_is_the_only_stdout(runner, tables):
    truth, pred = tables
    result = runner.invoke(app, ["evaluate", str(pred), "--truth", str(truth), "--json",
                                 "--pixel-size", "100", "--background", "2", "--emccd"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert KEYS <= metrics.keys()
    assert (metrics["tp"], metrics["fp"], metrics["fn"]) == (3, 1, 1)
    assert metrics["jaccard"] == pytest.approx(0.6) and metrics["rmse_axial_nm"] is None
    assert metrics["rmse_over_crlb"] > 1 and metrics["matching"] == "greedy"
    assert metrics["rmse_over_frame_limit"] is None      # only with --frame-limit


def test_frame_limit_is_reported_on_request(runner, tables):
    truth, pred = tables
    result = runner.invoke(app, ["evaluate", str(pred), "--truth", str(truth),
                                 "--pixel-size", "100", "--background", "2", "--frame-limit"])
    assert result.exit_code == 0, result.output
    line = next(x for x in _lines(result.stdout) if x.startswith("RMSE / frame limit"))
    crlb = next(x for x in _lines(result.stdout) if x.startswith("RMSE / CRLB"))
    # emitters far apart: the limit is the MLE bound, 9/16 of Eq. 6 without background
    assert float(line.split()[-1]) > float(crlb.split()[-1])


def test_hungarian_and_tolerance_options(runner, tables):
    truth, pred = tables
    result = runner.invoke(app, ["evaluate", str(pred), "--truth", str(truth), "--json",
                                 "--matching", "hungarian", "--tolerance-lateral", "20"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["tp"] == 1 and metrics["matching"] == "hungarian"  # only the 11 nm pair


def test_plot_writes_a_png_and_refuses_to_replace_it(runner, tables, tmp_path):
    truth, pred = tables
    plot = tmp_path / "eval.png"
    args = ["evaluate", str(pred), "--truth", str(truth), "--json", "--plot", str(plot)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == PNG_MAGIC
    json.loads(result.stdout)
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert _lines(result.stderr) == [f"error: {plot}: output exists; pass --overwrite to "
                                     "replace it"]
    assert runner.invoke(app, args + ["--overwrite"]).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.png", "locs.csv", "truth.csv"]


@pytest.mark.parametrize("pred_text, args, fragment", [
    (None, ["--truth", "missing.csv"], "missing.csv: no such file"),
    ("", [], "empty file"),
    ("frame,x_nm,y_nm\n", [], "has a header but no localizations"),
    ("frame,x_nm,y_nm\n0,1,nan\n", [], "NaN or infinite y_nm"),
    ("frame,x_nm\n0,1\n", [], "missing required column(s) y_nm"),
    (PRED, ["--matching", "nearest"], "unknown matching 'nearest'"),
    (PRED, ["--tolerance-lateral", "-5"], "tolerance_lateral_nm must be a positive number"),
    (PRED, ["--plot", "eval.jpg"], "the plot must be a .png file"),
    (PRED, ["--from", "excel"], "unknown table format 'excel'"),
])
def test_bad_input_exits_2_with_one_line(runner, tmp_path, tables, pred_text, args, fragment):
    truth, pred = tables
    if pred_text is not None:
        pred.write_text(pred_text)
    args = [a if not a.endswith((".csv", ".jpg")) else str(tmp_path / a) for a in args]
    if "--truth" not in args:
        args += ["--truth", str(truth)]
    result = runner.invoke(app, ["evaluate", str(pred), *args])
    assert result.exit_code == 2, result.output
    lines = _lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert result.stdout == ""


@pytest.fixture
def big_tables(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    truth = pd.DataFrame({"frame": np.sort(rng.integers(0, 100, n)),
                          "x_nm": rng.uniform(0, 5000, n), "y_nm": rng.uniform(0, 5000, n)})
    pred = truth.assign(x_nm=truth.x_nm + rng.normal(0, 30, n)).sample(frac=0.9, random_state=1)
    pred = pred.sort_values("frame", kind="stable")
    truth.to_csv(tmp_path / "truth.csv", index=False)
    pred.to_csv(tmp_path / "locs.csv", index=False)
    return tmp_path / "truth.csv", tmp_path / "locs.csv"


def test_cluster_paths_give_the_in_process_result(runner, big_tables, dask_cluster, monkeypatch):
    import smlmscale.cli.evaluate as command

    truth, pred = big_tables
    args = ["evaluate", str(pred), "--truth", str(truth), "--json"]
    local = runner.invoke(app, args)
    assert local.exit_code == 0, local.output
    expected = json.loads(local.stdout)
    monkeypatch.setattr(command, "CLUSTER_ROWS", 1000)  # pandas tables, blocks on the cluster
    with_cluster = ["--scheduler", dask_cluster.scheduler_address]
    result = runner.invoke(app, with_cluster + args)
    assert result.exit_code == 0, result.output
    assert "dask: 2 workers" in result.stderr
    monkeypatch.setattr(command, "LAZY_BYTES", 0)  # read lazily, partitions on the cluster
    lazy = runner.invoke(app, with_cluster + args)
    assert lazy.exit_code == 0, lazy.output
    for got in (json.loads(result.stdout), json.loads(lazy.stdout)):
        assert {k: got[k] for k in ("tp", "fp", "fn", "n_truth", "n_pred")} == \
            {k: expected[k] for k in ("tp", "fp", "fn", "n_truth", "n_pred")}
        assert got["rmse_lateral_nm"] == pytest.approx(expected["rmse_lateral_nm"], abs=1e-9)


def test_a_prediction_of_some_frames_is_scored_on_those_frames(runner, tmp_path):
    """Issue 18 item 6: predict --frames records them; evaluate restricts the truth."""
    from smlmscale.io.tables import TableMeta, write_table

    frames = np.repeat(np.arange(10), 2)
    truth = pd.DataFrame({"frame": frames, "x_nm": 300.0 * np.tile([1, 5], 10),
                          "y_nm": np.full(20, 400.0)})
    pred = truth[truth["frame"] < 4].assign(x_nm=lambda t: t["x_nm"] + 10)
    write_table(truth, tmp_path / "truth.parquet")
    write_table(pred, tmp_path / "locs.parquet",
                meta=TableMeta(extra={"predicted_frames": [0, 4]}))
    result = runner.invoke(app, ["evaluate", str(tmp_path / "locs.parquet"), "--truth",
                                 str(tmp_path / "truth.parquet"), "--json"])
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["jaccard"] == 1.0 and metrics["n_truth"] == 8
    assert "note: scored frames 0-3 only" in result.stderr
    # the same prediction as CSV has no record: a one-line warning, and --frames fixes it
    write_table(pred, tmp_path / "locs.csv")
    warned = runner.invoke(app, ["evaluate", str(tmp_path / "locs.csv"), "--truth",
                                 str(tmp_path / "truth.parquet"), "--json"])
    assert warned.exit_code == 0 and json.loads(warned.stdout)["jaccard"] == 0.4
    lines = [line for line in warned.stderr.splitlines() if line.startswith("warning: ")]
    assert len(lines) == 1 and "--frames 0:4" in lines[0]
    fixed = runner.invoke(app, ["evaluate", str(tmp_path / "locs.csv"), "--truth",
                                str(tmp_path / "truth.parquet"), "--json", "--frames", "0:4"])
    assert json.loads(fixed.stdout)["jaccard"] == 1.0 and "warning" not in fixed.stderr
