"""``smlmscale undrift LOCS -o OUT``: drift correction by redundant cross-correlation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, given_settings, say, settings_option
from smlmscale.drift.run import UndriftSettings

U = UndriftSettings


@app.command("undrift")
def undrift_command(
    ctx: typer.Context,
    locs: Annotated[Path, typer.Argument(metavar="LOCS", help="Localization table, any format.",
                                         show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="OUT",
                                         help="Corrected table; the format follows the "
                                              "extension or --format.", show_default=False)],
    method: Annotated[Optional[str], settings_option(U, "method")] = None,
    segment_frames: Annotated[Optional[int], settings_option(U, "segment_frames",
                                                             metavar="FRAMES")] = None,
    pixel_size_nm: Annotated[Optional[float], settings_option(U, "pixel_size_nm",
                                                              metavar="NM")] = None,
    max_shift_nm: Annotated[Optional[float], settings_option(U, "max_shift_nm",
                                                             metavar="NM")] = None,
    max_residual_nm: Annotated[Optional[float], settings_option(U, "max_residual_nm",
                                                                metavar="NM")] = None,
    sigma_nm: Annotated[Optional[float], settings_option(U, "sigma_nm", metavar="NM")] = None,
    to_format: Annotated[Optional[str], typer.Option(
        "--format", metavar="FORMAT", help="Output table format; default: from the "
                                           "extension.")] = None,
    drift_out: Annotated[Optional[Path], typer.Option(
        "--drift-out", metavar="CSV", help="Drift curve (frame, dx_nm, dy_nm); default: "
                                           "OUT stem + _drift.csv.")] = None,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", metavar="PNG", help="Plot the drift curve to this PNG.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace existing outputs.")] = False,
) -> None:
    """Estimate drift by RCC of rendered segments on the cluster and subtract it, lazily.

    Example: smlmscale undrift locs.parquet -o locs_undrifted.parquet --segment 1000
    --plot drift.png
    """
    from smlmscale.drift.run import prepare_undrift, run_undrift

    plan = prepare_undrift(locs, output, settings=U(**given_settings(ctx, U)),
                           format=to_format, drift_out=drift_out, plot=plot,
                           overwrite=overwrite)
    with dask_cluster(ctx) as client:
        result = run_undrift(plan, client=client)
    say(ctx, f"wrote {result.path}: {result.rows} localizations, drift up to "
             f"{result.max_drift_nm:.1f} nm over {result.segments} segments "
             f"({result.pairs_kept}/{result.pairs} pairs kept); curve {result.drift_path}")
