"""``smlmscale render LOCS -o IMAGE``: a super-resolution image of a localization table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, say


@app.command("render")
def render_command(
    ctx: typer.Context,
    locs: Annotated[Path, typer.Argument(metavar="LOCS", help="Localization table, any format.",
                                         show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="IMAGE",
                                         help="Image to write: .png or .tif.",
                                         show_default=False)],
    pixel_size: Annotated[float, typer.Option(
        "--pixel-size", metavar="NM", help="Render pixel size, nm.")] = 10.0,
    mode: Annotated[str, typer.Option("--mode", help="histogram or gaussian.")] = "histogram",
    sigma: Annotated[float, typer.Option(
        "--sigma", metavar="NM", help="Gaussian width of --mode gaussian, nm.")] = 10.0,
    widefield: Annotated[Optional[Path], typer.Option(
        "--widefield", metavar="IN.zarr", help="Show the movie's summed frames beside the "
                                               "rendering (PNG).")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing image.")] = False,
) -> None:
    """Render localizations as a histogram or Gaussian image, part by part on the cluster."""
    from smlmscale.io.tables._atomic import check_outputs
    from smlmscale.render.run import render_table

    check_outputs([output], overwrite=overwrite)  # fail before starting a cluster
    with dask_cluster(ctx) as client:
        result = render_table(locs, output, client=client, pixel_nm=pixel_size, mode=mode,
                              sigma_nm=sigma, widefield=widefield, overwrite=overwrite)
    say(ctx, f"wrote {result.path}: {result.localizations} localizations, "
             f"{result.shape[1]} x {result.shape[0]} px of {result.pixel_nm:g} nm")
