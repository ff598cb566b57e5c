"""The demo: simulate --tiff -> ingest -> preprocess -> patches -> train -> convert -> evaluate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.cli.demo import run_demo
from smlmscale.cli.demo_3d import Demo3dSettings
from smlmscale.cli.demo_figures import jitter_table
from smlmscale.cli.demo_locnet import comparison_lines
from smlmscale.cli.demo_steps import DemoSettings, LocnetDemoSettings, SectionDemoSettings
from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.patches.patchset import open_patchset

SMALL = DemoSettings(frames=40, size_px=48, frames_per_tiff=15, train_epochs=2,
                     predict_frames=10, threshold=0.0,
                     locnet=LocnetDemoSettings(steps_per_epoch=4, epochs=1, batch_size=4),
                     sections=SectionDemoSettings(n_sections=8, size_px=256, n_clusters=5,
                                                  train_epochs=2, randomize=2),
                     volume=Demo3dSettings(train_frames=40, test_frames=4, epochs=1, filters=4,
                                           z_voxels=4, threshold=0.0))


def test_jitter_table_drops_adds_and_moves():
    rng = np.random.default_rng(0)
    truth = pd.DataFrame({"frame": np.repeat(np.arange(100), 20),
                          "x_nm": rng.uniform(0, 5000, 2000), "y_nm": rng.uniform(0, 5000, 2000)})
    jittered = jitter_table(truth, jitter_nm=20.0, drop_fraction=0.1, spurious_fraction=0.05,
                            field_nm=(5000.0, 5000.0), seed=1)
    assert len(jittered) == pytest.approx(2000 * 0.9 + 100, abs=60)
    assert jittered["frame"].is_monotonic_increasing
    assert jittered["x_nm"].between(-200, 5200).all()


def test_run_demo_checks_its_outputs(client, tmp_path):
    figures = run_demo(tmp_path / "demo", client=client, settings=SMALL)
    assert figures["frames"] == 40 and figures["truth_rows"] > 0
    pre = open_image_store(figures["preprocessed"])
    assert pre.array.shape == (40, 48, 48) and pre.array.dtype == np.float32
    assert pre.attrs["preprocess"]  # the steps are recorded as provenance
    patches = open_patchset(figures["patches"])
    assert figures["n_patches"] > 0 and patches.inputs.shape[1:] == (64, 64, 1)
    assert (tmp_path / "demo" / "model" / "model.keras").is_file()
    assert figures["curve"].endswith("training_curve.png")
    assert 0 <= figures["predicted_evaluation"]["jaccard"] <= 1
    assert (tmp_path / "demo" / "predicted.png").is_file()
    locnet = figures["locnet_evaluation"]
    assert locnet is None or (0 <= locnet["jaccard"] <= 1 and locnet["frames_per_s"] > 0)
    assert (tmp_path / "demo" / "model_loc" / "model.keras").is_file()
    assert "density_per_um2: [0.1, 3]" in (tmp_path / "demo" / "locnet_sim.yaml").read_text()
    scores = figures["evaluation"]
    # 5 % dropped, 3 % spurious, 20 nm jitter per axis: a known score
    assert 0.85 < scores["jaccard"] < 0.97
    assert scores["rmse_lateral_nm"] == pytest.approx(20 * np.sqrt(2), rel=0.25)
    post = figures["post"]  # None when the barely trained locnet model found nothing
    assert post is None or 0 < post["linked_rows"] <= post["rows"]
    volume = figures["volume"]
    assert volume is None or (volume["fixed_z_rmse_nm"] > 0 and 0 <= volume["jaccard"] <= 1)
    assert (tmp_path / "demo" / "model3d" / "model.keras").is_file()
    sections = figures["sections"]
    assert sections["simulated_clusters"] > 0 and 0 <= sections["recovered"] <= 1
    for name in ("properties.csv", "histograms.png", "sequences.csv", "cluster.json"):
        assert (tmp_path / "demo" / "clusters" / name).is_file()
    with pytest.raises(InputError, match="--overwrite"):
        run_demo(tmp_path / "demo", client=client, settings=SMALL)


def test_comparison_lines_put_the_models_side_by_side():
    lines = comparison_lines({
        "deepstorm": {"jaccard": 0.9, "rmse_lateral_nm": 25.0, "rmse_over_crlb": 3.1,
                      "frames_per_s": 1.5},
        "locnet": {"jaccard": 0.95, "rmse_lateral_nm": 9.0, "rmse_over_crlb": None,
                   "frames_per_s": 20.0},
        "other": None})
    assert lines[0].split() == ["model", "Jaccard", "RMSE", "nm", "RMSE/CRLB", "frames/s"]
    assert lines[1].split() == ["deepstorm", "0.900", "25.0", "3.10", "1.50"]
    assert lines[2].split() == ["locnet", "0.950", "9.0", "n/a", "20.00"]
    assert "no localizations" in lines[3]


def test_demo_never_touches_a_foreign_folder(client, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("precious")
    with pytest.raises(InputError, match="not a smlmscale demo folder"):
        run_demo(tmp_path / "mine", client=client, settings=SMALL, overwrite=True)
    assert (tmp_path / "mine" / "thesis.docx").read_text() == "precious"


@pytest.mark.timeout(600)     # 135 s on an idle 2-core machine; it trains two models
def test_demo_command(dask_cluster, tmp_path):
    out = tmp_path / "d"
    result = CliRunner().invoke(app, ["--scheduler", dask_cluster.scheduler_address, "demo",
                                      "-o", str(out), "--frames", "30",
                                      "--locnet-epochs", "1"])
    assert result.exit_code == 0, result.stderr
    assert "$ smlmscale info" in result.stdout and "shape: 30 x 96 x 96" in result.stdout
    assert "evaluate" in result.stdout and "demo done" in result.stderr
    assert "$ smlmscale train" in result.stdout and "epoch 6/6" in result.stdout
    assert "$ smlmscale cluster" in result.stdout and "simulated clusters" in result.stdout
    assert "3D clusters found" in result.stderr
    assert "$ smlmscale train --simulate" in result.stdout and "RMSE/CRLB" in result.stdout
    for step in ("undrift", "link", "resolution"):  # the post-processing leg
        assert f"$ smlmscale {step} " in result.stdout, step
    assert (out / "undrifted_drift.csv").is_file() and (out / "linked.parquet").is_file()
    assert "locnet model (trained on the fly)" in result.stderr or \
        "locnet" in result.stdout.splitlines()[-1] or "(no localizations)" in result.stdout
    again = CliRunner().invoke(app, ["demo", "-o", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.stderr
