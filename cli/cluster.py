"""``smlmscale cluster LOCS -o OUT``: sequenced 3D DBSCAN or exact DBSCAN + cluster properties."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, global_options, say
from smlmscale.cli._progress import progress_bar
from smlmscale.cluster import run as _run

_DEFAULTS = _run.ClusterSettings()


@app.command("cluster")
def cluster_command(
    ctx: typer.Context,
    locs: Annotated[Path, typer.Argument(
        metavar="LOCS", help="Localization table (.parquet, .csv, .hdf5, ...).",
        show_default=False)],
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="OUT", help="Folder to write (localizations.parquet with "
        "cluster labels, properties, summary, histograms, cluster.json).", show_default=False)],
    mode: Annotated[str, typer.Option(
        "--mode", help="sequences: DBSCAN per ROI tile sequence (needs --rois); global: "
        "exact DBSCAN of the whole table.")] = _DEFAULTS.mode,
    rois: Annotated[Optional[Path], typer.Option(
        "--rois", metavar="ROIS.csv", help="ROI list (roi, section, x, y, size) whose tiles "
        "are chained into sequences.", show_default=False)] = None,
    eps: Annotated[float, typer.Option(
        "--eps", metavar="NM", help="Lateral neighbourhood radius, nm.")] = _DEFAULTS.eps_nm,
    min_samples: Annotated[int, typer.Option(
        "--min-samples", help="Points (itself included) within --eps of a core point.")
    ] = _DEFAULTS.min_samples,
    eps_z: Annotated[Optional[float], typer.Option(
        "--eps-z", metavar="NM", help="Axial neighbourhood radius, nm (default: --eps).",
        show_default=False)] = None,
    randomize: Annotated[int, typer.Option(
        "--randomize", metavar="N", help="Also compute the properties of N randomized "
        "copies of every cluster (the random control).")] = _DEFAULTS.randomize,
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed of the randomization.")] = _DEFAULTS.seed,
    section_thickness: Annotated[Optional[float], typer.Option(
        "--section-thickness", metavar="NM", help="Section thickness for the hulls, nm "
        "(default: the table's own, or the spacing of section-centre z values).",
        show_default=False)] = None,
    pixel_size: Annotated[Optional[float], typer.Option(
        "--pixel-size", metavar="NM", help="Pixel of the ROI list, nm (default: the "
        "table's).", show_default=False)] = None,
    min_overlap: Annotated[int, typer.Option(
        "--min-overlap", metavar="PX", help="Least shared area, px, linking tiles of "
        "consecutive sections.")] = _DEFAULTS.min_overlap_px,
    sequences_per_task: Annotated[int, typer.Option(
        "--sequences-per-task", help="Sequences per task (on average, at most).")
    ] = _DEFAULTS.sequences_per_task,
    points_per_task: Annotated[int, typer.Option(
        "--points-per-task", help="Points per task (global mode: per spatial block).")
    ] = _DEFAULTS.points_per_task,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing output once the new one is complete.")
    ] = False,
) -> None:
    """Cluster localizations with DBSCAN and measure every cluster.

    --mode sequences (the serial-section workflow) chains the ROI tiles of consecutive
    sections into sequences and clusters each sequence's 3D points; --mode global runs
    DBSCAN on the whole table, equal to scikit-learn's.
    """
    settings = _run.ClusterSettings(
        mode=mode, eps_nm=eps, min_samples=min_samples, eps_z_nm=eps_z, randomize=randomize,
        seed=seed, section_thickness_nm=section_thickness, pixel_size_nm=pixel_size,
        min_overlap_px=min_overlap, sequences_per_task=sequences_per_task,
        points_per_task=points_per_task)
    _run.prepare_run(locs, output, settings=settings, rois=rois, overwrite=overwrite)
    command = shlex.join(["smlmscale", *sys.argv[1:]])
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "cluster") as bar:
        result = _run.cluster_table(locs, output, client=client, settings=settings, rois=rois,
                                    overwrite=overwrite, command=command,
                                    progress=lambda done, total: bar(done, total, 0))
    where = (f" in {result.sequences} sequences" if result.sequences is not None
             else f" ({result.blocks} blocks)")
    say(ctx, f"wrote {result.path}: {result.clusters} clusters{where}, "
             f"{result.clustered} of {result.localizations} localizations clustered "
             f"({100 * result.clustered_fraction:.1f} %), {result.seconds:.1f} s")
