"""``smlmscale resolution LOCS --frc``: the Fourier ring correlation resolution of a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, given_settings, say, settings_option
from smlmscale.resolution.run import ResolutionSettings

R = ResolutionSettings


@app.command("resolution")
def resolution_command(
    ctx: typer.Context,
    locs: Annotated[Path, typer.Argument(metavar="LOCS", help="Localization table, any format.",
                                         show_default=False)],
    frc: Annotated[bool, typer.Option(
        "--frc", help="Fourier ring correlation of two halves, 1/7 threshold (the only "
                      "method: measured with or without the flag).")] = False,
    pixel_size_nm: Annotated[Optional[float], settings_option(R, "pixel_size_nm",
                                                              metavar="NM")] = None,
    split: Annotated[Optional[str], settings_option(R, "split")] = None,
    seed: Annotated[Optional[int], settings_option(R, "seed")] = None,
    block_frames: Annotated[Optional[int], settings_option(R, "block_frames",
                                                           metavar="FRAMES")] = None,
    smooth_rings: Annotated[Optional[int], settings_option(R, "smooth_rings",
                                                           metavar="RINGS")] = None,
    curve_out: Annotated[Optional[Path], typer.Option(
        "--curve-out", metavar="CSV", help="Write the curve (frequency_per_nm, "
                                           "resolution_nm, frc).")] = None,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", metavar="PNG", help="Plot the curve to this PNG.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace existing outputs.")] = False,
) -> None:
    """Measure the FRC resolution: two halves rendered on the cluster, 1/7 threshold.

    Blinking (one molecule in consecutive frames) correlates a random split's halves and
    makes the resolution look finer: use --split frames.

    Example: smlmscale resolution locs.parquet --frc --pixel-size 5 --plot frc.png
    """
    from smlmscale.resolution.run import prepare_resolution, run_resolution

    plan = prepare_resolution(locs, settings=R(**given_settings(ctx, R)), curve_out=curve_out,
                              plot=plot, overwrite=overwrite)
    with dask_cluster(ctx) as client:
        result = run_resolution(plan, client=client)
    if result.resolution_nm is None:
        found = (f"FRC resolution below {2 * result.pixel_nm:g} nm: the curve stays above 1/7 "
                 f"up to Nyquist (give a smaller --pixel-size)")
    else:
        found = f"FRC resolution {result.resolution_nm:.1f} nm (1/7 threshold)"
    files = [p for p in (result.curve_path, result.plot_path) if p]
    typer.echo(found)
    say(ctx, f"{plan.settings.split} split into {result.halves[0]} and {result.halves[1]} "
             f"localizations, {result.shape[1]} x {result.shape[0]} px of "
             f"{result.pixel_nm:g} nm" + (f"; wrote {', '.join(files)}" if files else ""))
