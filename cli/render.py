"""``smlmscale render LOCS -o IMAGE``: a super-resolution image of a localization table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, given_settings, say, settings_option
from smlmscale.render.run import RenderSettings

R = RenderSettings


@app.command("render")
def render_command(
    ctx: typer.Context,
    locs: Annotated[Path, typer.Argument(metavar="LOCS", help="Localization table, any format.",
                                         show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="IMAGE",
                                         help="Image to write: .png or .tif.",
                                         show_default=False)],
    pixel_size_nm: Annotated[Optional[float], settings_option(R, "pixel_size_nm",
                                                              metavar="NM")] = None,
    mode: Annotated[Optional[str], settings_option(R, "mode")] = None,
    sigma_nm: Annotated[Optional[float], settings_option(R, "sigma_nm", metavar="NM")] = None,
    blur: Annotated[Optional[str], settings_option(R, "blur")] = None,
    color_by: Annotated[Optional[str], settings_option(R, "color_by")] = None,
    scale_bar_nm: Annotated[Optional[float], settings_option(R, "scale_bar_nm",
                                                             metavar="NM")] = None,
    widefield: Annotated[Optional[Path], typer.Option(
        "--widefield", metavar="IN.zarr", help="Show the movie's summed frames beside the "
                                               "rendering (PNG).")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing image.")] = False,
) -> None:
    """Render localizations as a histogram or Gaussian image, part by part on the cluster.

    --blur precision draws each localization as a Gaussian of its own uncertainty
    (uncertainty_x_nm/uncertainty_y_nm or uncertainty_nm); --color-by z|frame colours the
    PNG by hue with a colour bar (a TIFF gets two channels: density and mean value).

    Example: smlmscale render locs.parquet -o img.png --pixel-size 10 --blur precision
    --color-by z --scale-bar 1000
    """
    from smlmscale.render.run import prepare_render, run_render

    plan = prepare_render(locs, output, settings=R(**given_settings(ctx, R)),
                          widefield=widefield, overwrite=overwrite)
    with dask_cluster(ctx) as client:
        result = run_render(plan, client=client)
    say(ctx, f"wrote {result.path}: {result.localizations} localizations, "
             f"{result.shape[1]} x {result.shape[0]} px of {result.pixel_nm:g} nm")
