"""``smlmscale filter LOCS -o OUT --where EXPR``: keep the rows that satisfy a condition."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, given_settings, say, settings_option
from smlmscale.postprocess.expression import ALLOWED
from smlmscale.postprocess.filter import FilterSettings

F = FilterSettings


@app.command("filter")
def filter_command(
    ctx: typer.Context,
    locs: Annotated[Path, typer.Argument(metavar="LOCS", help="Localization table, any format.",
                                         show_default=False)],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="OUT", help="Kept rows; the format follows the extension "
                                              "or --format.")] = None,
    where: Annotated[Optional[str], typer.Option(
        "--where", metavar="EXPR", help=f"Condition over columns; allowed: {ALLOWED}.")] = None,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", metavar="PNG", help="Histograms of the thresholded columns (or --hist), "
                                      "all and kept rows, thresholds drawn.")] = None,
    hist: Annotated[Optional[str], typer.Option(
        "--hist", metavar="COLUMN[,COLUMN]", help="Columns of --plot; default: those "
                                                  "--where thresholds, else confidence "
                                                  "and photons.")] = None,
    bins: Annotated[Optional[int], settings_option(F, "bins", metavar="N")] = None,
    to_format: Annotated[Optional[str], typer.Option(
        "--format", metavar="FORMAT", help="Output table format; default: from the "
                                           "extension.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace existing outputs.")] = False,
) -> None:
    """Keep the localizations that satisfy --where, streaming partition by partition.

    --plot draws histograms (confidence, photons or any column) with the thresholds of
    --where, to choose them; --plot alone only draws.

    Example: smlmscale filter locs.parquet -o kept.parquet --where "photons > 500 and
    uncertainty_x_nm < 20" --plot hist.png
    """
    from smlmscale.postprocess.filter import prepare_filter, run_filter

    columns = [c.strip() for c in hist.split(",") if c.strip()] if hist else None
    plan = prepare_filter(locs, output, where=where, plot=plot, columns=columns,
                          settings=F(**given_settings(ctx, F)), format=to_format,
                          overwrite=overwrite)
    with dask_cluster(ctx) as client:
        result = run_filter(plan, client=client)
    if result.path is not None:
        of = f" of {result.rows}" if result.rows is not None else ""
        say(ctx, f"wrote {result.path}: {result.kept}{of} localizations kept")
    if result.plot is not None:
        say(ctx, f"wrote {result.plot}: histograms of {', '.join(plan.columns)}"
                 f" ({result.rows} localizations)")
