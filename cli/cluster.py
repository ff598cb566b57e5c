"""``smlmscale cluster LOCS -o OUT``: sequenced 3D DBSCAN or exact DBSCAN + cluster properties."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import (command_line, dask_cluster, given_settings, global_options,
                                    say, settings_option)
from smlmscale.cli._progress import progress_bar
from smlmscale.cluster.run import ClusterResult, prepare_cluster, run_cluster
from smlmscale.cluster.settings import ClusterSettings as S


def summary_line(result: ClusterResult) -> str:
    """The one line ``smlmscale cluster`` ends with."""
    where = (f" in {result.sequences} sequences" if result.sequences is not None
             else f" ({result.blocks} blocks)")
    return (f"wrote {result.path}: {result.clusters} clusters{where}, "
            f"{result.clustered} of {result.localizations} localizations clustered "
            f"({100 * result.clustered_fraction:.1f} %), {result.seconds:.1f} s")


@app.command("cluster")
def cluster_command(
    ctx: typer.Context,
    locs: Annotated[Path, typer.Argument(
        metavar="LOCS", help="Localization table (.parquet, .csv, .hdf5, ...).",
        show_default=False)],
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="OUT", help="Folder to write (localizations.parquet with "
        "cluster labels, properties, summary, histograms, cluster.json).", show_default=False)],
    mode: Annotated[Optional[str], settings_option(S, "mode")] = None,
    rois: Annotated[Optional[Path], typer.Option(
        "--rois", metavar="ROIS.csv", help="ROI list (roi, section, x, y, size) whose tiles "
        "are chained into sequences.", show_default=False)] = None,
    eps_nm: Annotated[Optional[float], settings_option(S, "eps_nm", metavar="NM")] = None,
    min_samples: Annotated[Optional[int], settings_option(S, "min_samples")] = None,
    eps_z_nm: Annotated[Optional[float], settings_option(S, "eps_z_nm", metavar="NM")] = None,
    randomize: Annotated[Optional[int], settings_option(S, "randomize", metavar="N")] = None,
    seed: Annotated[Optional[int], settings_option(S, "seed")] = None,
    section_thickness_nm: Annotated[Optional[float], settings_option(
        S, "section_thickness_nm", metavar="NM")] = None,
    pixel_size_nm: Annotated[Optional[float], settings_option(
        S, "pixel_size_nm", metavar="NM")] = None,
    min_overlap_px: Annotated[Optional[int], settings_option(
        S, "min_overlap_px", metavar="PX")] = None,
    sequences_per_task: Annotated[Optional[int], settings_option(S, "sequences_per_task")
                                  ] = None,
    points_per_task: Annotated[Optional[int], settings_option(S, "points_per_task")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing output once the new one is complete.")
    ] = False,
) -> None:
    """Cluster localizations with DBSCAN and measure every cluster.

    --mode sequences (the serial-section workflow) chains the ROI tiles of consecutive
    sections into sequences and clusters each sequence's 3D points; --mode global runs
    DBSCAN on the whole table, equal to scikit-learn's.
    """
    plan = prepare_cluster(locs, output, settings=S(**given_settings(ctx, S)), rois=rois,
                           overwrite=overwrite, command=command_line())
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "cluster") as bar:
        result = run_cluster(plan, client=client,
                             progress=lambda done, total: bar(done, total, 0))
    say(ctx, summary_line(result))
