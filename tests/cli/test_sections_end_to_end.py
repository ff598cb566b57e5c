"""Issue 8 end to end through the CLI: a simulated section stack to 3D clusters.

simulate --kind sections -> preprocess (saturate, blur) -> patches --kind counts -> train
--model counts -> predict --rois -> cluster (sequences) -> info; the recovered clusters,
matched by centroid, must be at least 90 % of the simulated ones. The command lines are
the demo's own (:func:`smlmscale.cli.demo_steps.section_commands`). About a minute on 2
cores.
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from smlmscale.cli.demo_steps import SectionDemoSettings, SectionFiles, section_commands
from smlmscale.cluster.match import match_clusters

pytest.importorskip("keras")


def test_section_stack_to_clusters_recovers_the_simulated_clusters(scheduler, tmp_path):
    def run(*args):
        result = CliRunner().invoke(app, ["--scheduler", scheduler, *map(str, args)])
        assert result.exit_code == 0, (args, result.stderr[-2000:])
        return result

    files = SectionFiles.under(tmp_path, stem="sec")
    settings = SectionDemoSettings(n_sections=16, size_px=384, n_clusters=12,
                                   pixel_size_nm=15.5, seed=3, train_epochs=10, batch_size=8,
                                   eps_nm=80, eps_z_nm=140, min_samples=10, randomize=3)
    for step, argv in section_commands(files, settings).items():
        result = run(*argv)
    assert step == "cluster" and "clusters in" in result.stderr
    assert "clusters" in run("info", files.clusters).stdout
    found = pd.read_parquet(files.clusters / "properties.parquet")
    simulated = pd.read_parquet(files.clusters_truth)
    simulated = simulated[simulated["n_localizations"] >= 10]
    match = match_clusters(found, simulated, tolerance_nm=200.0)
    assert match.truth >= 10
    assert match.recovered >= 0.9, (match.matched, match.truth, len(found))
    for name in ("localizations.parquet", "properties.csv", "summary.csv", "sequences.csv",
                 "histograms.png", "randomized_properties.parquet", "cluster.json"):
        assert (files.clusters / name).is_file(), name
