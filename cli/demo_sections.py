"""The demo's second half: a serial-section stack to 3D clusters (seed 000), on the cluster.

simulate --kind sections -> preprocess (soft saturation, blur) -> patches --kind counts ->
train --model counts -> predict --rois (3D points) -> cluster (tile sequences, DBSCAN);
each step is a command line (:func:`smlmscale.cli.demo_steps.section_commands`) run
through the typer app. Between them the demo reads what a step wrote, and at the end
matches the recovered clusters by centroid to the simulated ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from smlmscale.cli.demo_figures import Trained
from smlmscale.cli.demo_runner import StepRunner
from smlmscale.cli.demo_steps import SectionDemoSettings, SectionFiles, section_commands, shown


def run_section_demo(out: Path, *, run: StepRunner, settings: SectionDemoSettings,
                     report: Callable[[str], None]) -> dict:
    """Run the section pipeline into folder ``out``; return its figures.

    Parameters
    ----------
    out : pathlib.Path
        The demo folder.
    run : StepRunner
        Runs (and echoes) each command line.
    settings : SectionDemoSettings
    report : callable
        Receives one line per figure.

    Returns
    -------
    dict
        ``sections`` (the stack), ``points3d``, ``clusters`` (paths), ``n_clusters``
        found, ``matched`` of ``simulated_clusters``, ``recovered`` (their fraction).

    Raises
    ------
    StepFailed
        A command exited with a non-zero code.
    """
    import pandas as pd

    from smlmscale.cluster.match import match_clusters
    from smlmscale.io.describe import describe_path
    from smlmscale.io.rois import read_rois
    from smlmscale.patches.patchset import open_patchset

    s, files = settings, SectionFiles.under(out)
    commands = section_commands(files, s)
    run(commands["simulate"]).check()
    truth = pd.read_parquet(files.truth)
    report(f"  {len(truth)} localizations in {s.n_clusters} clusters, "
           f"{len(read_rois(files.rois))} ROI tiles -> {shown(files.rois)}")
    run(commands["preprocess"]).check()
    run(commands["patches"]).check()
    patches = open_patchset(files.patches)
    report(f"  {len(patches)} tiles, inputs {list(patches.inputs.shape[1:])}")
    run(commands["train"]).check()
    report(f"  {Trained.read(files.model).kept_line()}")
    run(commands["predict"]).check()
    report(f"  {len(pd.read_parquet(files.points))} 3D points (simulated: {len(truth)})")
    run(commands["cluster"]).check()
    summary = describe_path(files.clusters)  # what `smlmscale info` shows of the folder
    found = pd.read_parquet(files.clusters / "properties.parquet")
    simulated = pd.read_parquet(files.clusters_truth)
    simulated = simulated[simulated["n_localizations"] >= s.min_samples]
    match = match_clusters(found, simulated, tolerance_nm=s.match_nm)
    report(f"  {summary['clusters']} clusters in {summary['sequences']} sequences; "
           f"{100 * summary['clustered'] / max(summary['localizations'], 1):.0f} % of the "
           f"points clustered; median {found['n_localizations'].median():.0f} localizations, "
           f"radius of gyration {found['radius_of_gyration_nm'].median():.0f} nm, hull volume "
           f"{found['hull_volume_nm3'].median() / 1e9:.3g} um^3; histograms "
           f"{shown(files.clusters / 'histograms.png')}")
    report(f"  recovered {match.matched} of {match.truth} simulated clusters "
           f"({100 * match.recovered:.0f} %) within {s.match_nm:g} nm, centroids off by "
           f"{match.distance_nm:.0f} nm on average")
    return {"sections": str(files.stack), "points3d": str(files.points),
            "clusters": str(files.clusters), "n_clusters": int(summary["clusters"]),
            "recovered": match.recovered, "matched": match.matched,
            "simulated_clusters": match.truth}


__all__ = ["run_section_demo"]
