"""Issue 8 end to end through the CLI: a simulated section stack to 3D clusters.

simulate --kind sections -> preprocess (saturate, blur) -> patches --kind counts -> train
--model counts -> predict --rois -> cluster (sequences) -> info; the recovered clusters,
matched by centroid, must be at least 90 % of the simulated ones. About a minute on 2 cores.
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.cluster.match import match_clusters

pytest.importorskip("keras")


def test_section_stack_to_clusters_recovers_the_simulated_clusters(scheduler, tmp_path):
    def run(*args):
        result = CliRunner().invoke(app, ["--scheduler", scheduler, *map(str, args)])
        assert result.exit_code == 0, (args, result.stderr[-2000:])
        return result

    stack, pre = tmp_path / "sec.zarr", tmp_path / "pre.zarr"
    rois, truth = tmp_path / "sec_rois.csv", tmp_path / "sec_truth.parquet"
    run("simulate", "--kind", "sections", "-o", stack, "--sections", 16, "--size", 384,
        "--clusters", 12, "--pixel-size", 15.5, "--seed", 3)
    run("preprocess", stack, "-o", pre, "--steps", "saturate:knee=0.5; blur:sigma=1.0")
    run("patches", pre, "--locs", truth, "--rois", rois, "-o", tmp_path / "counts.zarr",
        "--kind", "counts")
    run("train", tmp_path / "counts.zarr", "-o", tmp_path / "model", "--model", "counts",
        "--epochs", 10, "--batch-size", 8, "--seed", 3)
    run("predict", pre, "--model", tmp_path / "model", "--rois", rois, "-o",
        tmp_path / "points3d.parquet", "--section-thickness", 70)
    result = run("cluster", tmp_path / "points3d.parquet", "--rois", rois, "-o",
                 tmp_path / "clusters", "--eps", 80, "--eps-z", 140, "--min-samples", 10,
                 "--randomize", 3)
    assert "clusters in" in result.stderr
    assert "clusters" in run("info", tmp_path / "clusters").stdout
    found = pd.read_parquet(tmp_path / "clusters" / "properties.parquet")
    simulated = pd.read_parquet(tmp_path / "sec_clusters.parquet")
    simulated = simulated[simulated["n_localizations"] >= 10]
    match = match_clusters(found, simulated, tolerance_nm=200.0)
    assert match.truth >= 10
    assert match.recovered >= 0.9, (match.matched, match.truth, len(found))
    for name in ("localizations.parquet", "properties.csv", "summary.csv", "sequences.csv",
                 "histograms.png", "randomized_properties.parquet", "cluster.json"):
        assert (tmp_path / "clusters" / name).is_file(), name
