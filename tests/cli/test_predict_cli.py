"""``smlmscale predict`` through its real entry points, good runs and bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.io.ome_zarr import create_image_store
from smlmscale.io.tables import read_table
from tests.cli.helpers import assert_fails_with_one_line
from tests.predict import tiny_model
from tests.predict.test_run import _movie

pytest.importorskip("keras")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("climodel"))


def _run(scheduler, *args):
    return CliRunner().invoke(app, ["--scheduler", scheduler, "predict", *map(str, args)])


def test_predict_writes_a_table_by_extension_and_density(scheduler, model, tmp_path):
    _movie(tmp_path / "m.zarr", frames=8)
    result = _run(scheduler, tmp_path / "m.zarr", "--model", model, "-o", tmp_path / "l.csv",
                  "--threshold", "0", "--density-out", tmp_path / "d.zarr", "--tile", "32")
    assert result.exit_code == 0, result.stderr
    assert "localizations in 8 frames" in result.stderr
    table, _ = read_table(tmp_path / "l.csv")
    assert len(table) > 0 and (tmp_path / "d.zarr").is_dir()
    info = CliRunner().invoke(app, ["info", str(model)])
    assert info.exit_code == 0 and "model: deepstorm" in info.stdout


@pytest.mark.parametrize("args, fragments", [
    (["--threshold", "-1"], ["--threshold must be a number >= 0"]),
    (["--frames", "a:b"], ["--frames must be FIRST:STOP"]),
    (["--frames", "90:99"], ["starts beyond"]),
    (["--confidence", "mean"], ["unknown confidence"]),
    (["--resume"], ["nothing to resume"]),
    (["--resume", "--overwrite"], ["exclude each other"]),
    (["--tile", "0"], ["--tile must be at least 8"]),
])
def test_bad_options_fail_with_one_line(scheduler, model, tmp_path, args, fragments):
    _movie(tmp_path / "m.zarr", frames=4)
    result = _run(scheduler, tmp_path / "m.zarr", "--model", model, "-o",
                  tmp_path / "l.parquet", *args)
    assert_fails_with_one_line(result, *fragments)
    assert not (tmp_path / "l.parquet").exists()


def test_bad_inputs_fail_with_one_line(scheduler, model, tmp_path):
    _movie(tmp_path / "m.zarr", frames=4)
    _movie(tmp_path / "coarse.zarr", frames=2, pixel=160.0)
    out = tmp_path / "l.parquet"
    assert_fails_with_one_line(_run(scheduler, tmp_path / "m.zarr", "--model", tmp_path,
                                    "-o", out), "smlmscale.json")
    assert_fails_with_one_line(_run(scheduler, tmp_path / "coarse.zarr", "--model", model,
                                    "-o", out), "160 nm", "--pixel-size")
    create_image_store(tmp_path / "stack.zarr", shape=(2, 8, 8), dtype="uint16",
                       chunks=(1, 8, 8), axes="zyx", pixel_size_nm=100.0)
    assert_fails_with_one_line(_run(scheduler, tmp_path / "stack.zarr", "--model", model,
                                    "-o", out), "axes t, y, x")
    (tmp_path / "notes.txt").write_text("x")
    assert_fails_with_one_line(_run(scheduler, tmp_path / "notes.txt", "--model", model,
                                    "-o", out))
    out.write_text("keep")
    assert_fails_with_one_line(_run(scheduler, tmp_path / "m.zarr", "--model", model,
                                    "-o", out), "exists")
    assert out.read_text() == "keep"


def test_predict_through_the_console_script(scheduler, model, tmp_path):
    _movie(tmp_path / "m.zarr", frames=4)
    exe = os.path.join(os.path.dirname(sys.executable), "smlmscale")
    done = subprocess.run([exe, "--scheduler", scheduler, "predict", str(tmp_path / "m.zarr"),
                           "--model", str(model), "-o", str(tmp_path / "l.hdf5"),
                           "--threshold", "0"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "l.hdf5").is_file() and (tmp_path / "l.yaml").is_file()
    bad = subprocess.run([exe, "--scheduler", scheduler, "predict", str(tmp_path / "m.zarr"),
                          "--model", str(model), "-o", str(tmp_path / "x.parquet"),
                          "--threshold", "-2"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    lines = [line for line in bad.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "--threshold" in lines[0]


@pytest.fixture()
def counts(counts_model):
    return counts_model


def test_counts_model_predicts_3d_points_from_rois(scheduler, counts, tmp_path):
    sim, model = counts
    out = tmp_path / "points3d.parquet"
    result = _run(scheduler, sim["path"], "--model", model, "--rois", sim["rois_path"],
                  "-o", out, "--section-thickness", "70")
    assert result.exit_code == 0, result.stderr
    assert "3D points from" in result.stderr
    table, _ = read_table(out)
    assert {"x_nm", "y_nm", "z_nm", "section", "roi"} <= set(table.columns) and len(table)


def test_counts_bad_input_fails_with_one_line(scheduler, counts, model, tmp_path):
    sim, counts_model = counts
    out = tmp_path / "p.parquet"
    stack, rois = sim["path"], sim["rois_path"]
    assert_fails_with_one_line(_run(scheduler, stack, "--model", counts_model, "-o", out),
                               "counts models predict section stacks", "--rois")
    assert_fails_with_one_line(_run(scheduler, stack, "--model", model, "--rois", rois,
                                    "-o", out), "--rois takes a counts model")
    assert_fails_with_one_line(_run(scheduler, stack, "--model", counts_model, "--rois",
                                    tmp_path / "none.csv", "-o", out), "no such ROI list")
    (tmp_path / "bad.csv").write_text("roi,section,x\n1,0,3\n")
    assert_fails_with_one_line(_run(scheduler, stack, "--model", counts_model, "--rois",
                                    tmp_path / "bad.csv", "-o", out), "no y, size columns")
    assert_fails_with_one_line(_run(scheduler, stack, "--model", counts_model, "--rois", rois,
                                    "-o", out, "--density-out", tmp_path / "d.zarr"),
                               "--density-out is for movies")
    assert_fails_with_one_line(_run(scheduler, stack, "--model", counts_model, "--rois", rois,
                                    "-o", out, "--section-thickness", "-70"),
                               "--section-thickness must be a positive")
    _movie(tmp_path / "m.zarr", frames=4)
    assert_fails_with_one_line(_run(scheduler, tmp_path / "m.zarr", "--model", model, "-o", out,
                                    "--section-thickness", "70"), "goes with --rois")
    assert not out.exists()


@pytest.fixture(scope="module")
def locnet(tmp_path_factory):
    from tests.predict.test_locnet import locnet_folder

    return locnet_folder(tmp_path_factory.mktemp("clilocnet") / "m")


def test_locnet_predicts_names_its_histogram_and_the_rows_cut(scheduler, locnet, tmp_path):
    from tests.predict.test_locnet import _movie as locnet_movie

    locnet_movie(tmp_path / "m.zarr", frames=4)
    result = _run(scheduler, tmp_path / "m.zarr", "--model", locnet, "-o",
                  tmp_path / "l.parquet", "--max-uncertainty", "1000000")
    assert result.exit_code == 0, result.stderr
    assert "l_uncertainty.png" in result.stderr and "0 removed by --max-uncertainty" in \
        result.stderr
    assert (tmp_path / "l_uncertainty.png").is_file()
    # the histogram now exists: a new table beside it is refused
    (tmp_path / "l.parquet").unlink()
    again = _run(scheduler, tmp_path / "m.zarr", "--model", locnet, "-o",
                 tmp_path / "l.parquet")
    assert_fails_with_one_line(again, "l_uncertainty.png")
    assert not (tmp_path / "l.parquet").exists()


def test_locnet_bad_input_fails_with_one_line(scheduler, locnet, model, tmp_path):
    from tests.predict.test_locnet import _movie as locnet_movie

    locnet_movie(tmp_path / "short.zarr", frames=2)
    locnet_movie(tmp_path / "m.zarr", frames=4)
    out = tmp_path / "l.parquet"
    assert_fails_with_one_line(_run(scheduler, tmp_path / "short.zarr", "--model", locnet,
                                    "-o", out), "reads 3 consecutive frames", "only 2")
    (tmp_path / "r.csv").write_text("roi,section,x,y,size\n0,0,0,0,8\n")
    assert_fails_with_one_line(_run(scheduler, tmp_path / "m.zarr", "--model", locnet, "-o",
                                    out, "--rois", tmp_path / "r.csv"), "--rois", "locnet")
    assert_fails_with_one_line(_run(scheduler, tmp_path / "m.zarr", "--model", locnet, "-o",
                                    out, "--density-out", tmp_path / "d.zarr"),
                               "--density-out", "locnet")
    assert_fails_with_one_line(_run(scheduler, tmp_path / "m.zarr", "--model", model, "-o",
                                    out, "--max-uncertainty", "20"),
                               "--max-uncertainty needs a locnet model")
    assert_fails_with_one_line(_run(scheduler, tmp_path / "m.zarr", "--model", locnet, "-o",
                                    out, "--max-uncertainty", "0"), "--max-uncertainty")
    assert_fails_with_one_line(_run(scheduler, tmp_path / "m.zarr", "--model", locnet, "-o",
                                    out, "--precision", "half"), "--precision", "bfloat16")
    assert not out.exists() and not (tmp_path / "l_uncertainty.png").exists()


def test_locnet_predicts_in_bfloat16_close_to_float32(scheduler, locnet, tmp_path):
    """``--precision bfloat16`` on the cluster: the same localizations within 15 nm, to
    bfloat16's rounding. The untrained net's probabilities hover about the threshold on
    this noise movie, so some candidates come or go (a trained model on the benchmark's
    movies: the same Jaccard and RMSE, benchmarks/RESULTS.md)."""
    import pandas as pd

    from tests.predict.test_locnet import _movie as locnet_movie

    locnet_movie(tmp_path / "m.zarr", frames=4)
    tables = {}
    for precision in ("float32", "bfloat16"):
        out = tmp_path / f"{precision}.parquet"
        result = _run(scheduler, tmp_path / "m.zarr", "--model", locnet, "-o", out,
                      "--precision", precision)
        assert result.exit_code == 0, result.stderr
        assert ("frames/s in bfloat16" in result.stderr) == (precision == "bfloat16")
        tables[precision] = pd.read_parquet(out)
    f32, bf16 = tables["float32"], tables["bfloat16"]
    assert len(f32) > 20 and abs(len(bf16) - len(f32)) <= 0.15 * len(f32)
    matched = 0
    for frame, rows in f32.groupby("frame"):
        other = bf16[bf16["frame"] == frame]
        gap = np.hypot(rows["x_nm"].to_numpy()[:, None] - other["x_nm"].to_numpy(),
                       rows["y_nm"].to_numpy()[:, None] - other["y_nm"].to_numpy())
        matched += int((gap.min(axis=1, initial=np.inf) < 15.0).sum())
    assert matched >= 0.8 * len(f32)
