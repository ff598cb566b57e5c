"""The Deep-STORM3D commands through typer: patches, train, predict, and bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from tests.cli.helpers import assert_fails_with_one_line

pytest.importorskip("keras")


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """An astigmatic movie (20 frames of 24 px) and its truth, made by the CLI."""
    folder = tmp_path_factory.mktemp("ds3dcli")
    result = _invoke("simulate", "-o", folder / "sim3d.zarr", "--psf", "astigmatic",
                     "--z-range", "-600", "600", "--frames", "20", "--size", "24",
                     "--density", "1", "--seed", "3")
    assert result.exit_code == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def voxel_patches(simulated):
    result = _invoke("patches", simulated / "sim3d.zarr", "--locs",
                     simulated / "sim3d_truth.parquet", "-o", simulated / "train3d.zarr",
                     "--kind", "deepstorm3d", "--z-voxels", "6", "--patch-size", "12",
                     "--per-frame", "2")
    assert result.exit_code == 0, result.stderr
    assert "deepstorm3d patches of 12x12x1" in result.stderr
    return simulated / "train3d.zarr"


def test_patches_train_and_the_model_folder(voxel_patches, tmp_path):
    result = _invoke("train", voxel_patches, "-o", tmp_path / "model3d", "--model",
                     "deepstorm3d", "--dilation-max", "4", "--scaling-factor", "20",
                     "--filters", "4", "--lr", "5e-4", "--batch-size", "4", "--epochs", "1")
    assert result.exit_code == 0, result.stderr
    assert "deepstorm3d model, 1 epoch" in result.stderr
    meta = json.loads((tmp_path / "model3d" / "smlmscale.json").read_text())
    assert meta["model_options"] == {"dilation_max": 4, "scaling_factor": 20.0, "filters": 4}
    assert meta["generator_params"]["z_voxels"] == 6


def test_predict_writes_the_deepstorm3d_csv(tmp_path, scheduler):
    from tests.predict.test_deepstorm3d import _movie, voxel_folder

    _movie(tmp_path / "exp.zarr", frames=3)
    model = voxel_folder(tmp_path / "model3d")
    result = _invoke("--scheduler", scheduler, "predict", tmp_path / "exp.zarr", "--model",
                     model, "-o", tmp_path / "locs3d.csv", "--format", "deepstorm3d",
                     "--threshold", "0.3", "--radius", "2")
    assert result.exit_code == 0, result.stderr
    lines = (tmp_path / "locs3d.csv").read_text().splitlines()
    assert lines[0] == "frame,x [nm],y [nm],z [nm],intensity [au]" and len(lines) > 3
    assert lines[1].startswith("1,")  # Deep-STORM3D frames are 1-based


@pytest.mark.parametrize("command, fragments", [
    (["patches", "{sim}/sim3d.zarr", "--locs", "{sim}/sim3d_truth.parquet", "-o",
      "{out}/p.zarr", "--kind", "deepstorm3d", "--z-voxels", "1"],
     ["--z-voxels must be at least 2, got 1"]),
    (["patches", "{sim}/sim3d.zarr", "--locs", "{out}/flat.csv", "-o", "{out}/p.zarr",
      "--kind", "deepstorm3d", "--patch-size", "12"], ["no z_nm column"]),
    (["patches", "{sim}/sim3d.zarr", "--locs", "{sim}/sim3d_truth.parquet", "-o",
      "{out}/p.zarr", "--kind", "deepstorm3d", "--patch-size", "12", "--z-range", "-100:100"],
     ["--z-range -100:100 nm does not cover the emitters' z"]),
    (["train", "{sim}/train3d.zarr", "-o", "{out}/p.zarr"],
     ["a deepstorm model trains on deepstorm or summed patches, but this patch set holds "
      "deepstorm3d patches", "train --model deepstorm3d on it"]),
    (["train", "{sim}/train3d.zarr", "-o", "{out}/p.zarr", "--model", "locnet",
      "--dilation-max", "4"], ["--dilation-max does not apply to --model locnet"]),
    (["train", "{sim}/train3d.zarr", "-o", "{out}/p.zarr", "--model", "deepstorm3d",
      "--loss", "mse"], ["--loss mse does not train --model deepstorm3d"]),
])
def test_bad_input_fails_with_one_line_and_writes_nothing(voxel_patches, simulated, tmp_path,
                                                           command, fragments):
    (tmp_path / "flat.csv").write_text("frame,x_nm,y_nm\n0,100,200\n")
    args = [a.format(sim=simulated, out=tmp_path) for a in command]
    assert_fails_with_one_line(_invoke(*args), *fragments)
    assert not (tmp_path / "p.zarr").exists() and not (tmp_path / "p.zarr.partial").exists()


def test_a_2d_model_asked_for_z_fails_with_one_line(tmp_path):
    from tests.predict.test_deepstorm3d import _movie, voxel_folder

    _movie(tmp_path / "exp.zarr")
    model = voxel_folder(tmp_path / "flat")
    meta = json.loads((model / "smlmscale.json").read_text())
    (model / "smlmscale.json").write_text(json.dumps({**meta, "model": "deepstorm",
                                                      "generator_params": {}}))
    result = _invoke("predict", tmp_path / "exp.zarr", "--model", model, "-o",
                     tmp_path / "locs3d.csv", "--format", "deepstorm3d")
    assert_fails_with_one_line(result, "locs3d.csv: the deepstorm3d format needs z, but this "
                                       "deepstorm model is 2D")
    assert not list(tmp_path.glob("locs3d*"))
