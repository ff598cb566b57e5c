"""``smlmscale link LOCS -o OUT``: one emitter's consecutive-frame localizations merged."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, given_settings, say, settings_option
from smlmscale.postprocess.link import LinkSettings

L = LinkSettings


@app.command("link")
def link_command(
    ctx: typer.Context,
    locs: Annotated[Path, typer.Argument(metavar="LOCS", help="Localization table, any format.",
                                         show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="OUT",
                                         help="Linked table; the format follows the "
                                              "extension or --format.", show_default=False)],
    radius_nm: Annotated[Optional[float], settings_option(L, "radius_nm", metavar="NM")] = None,
    max_dark: Annotated[Optional[int], settings_option(L, "max_dark", metavar="FRAMES")] = None,
    weights: Annotated[Optional[str], settings_option(L, "weights")] = None,
    keep_all: Annotated[bool, typer.Option(
        "--keep-all", help="Write every localization with its track_id instead of one "
                           "merged row per track.")] = False,
    to_format: Annotated[Optional[str], typer.Option(
        "--format", metavar="FORMAT", help="Output table format; default: from the "
                                           "extension.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing output.")] = False,
) -> None:
    """Link localizations of one emitter in consecutive frames and merge each track.

    A localization joins the open track whose last localization is nearest, within
    --radius, greedily by distance, one per track and frame; a track stays open over
    --max-dark missed frames. The merged row has the first frame, positions weighted by
    inverse variance (uncertainty_x_nm/uncertainty_y_nm or uncertainty_nm; the mean
    without them), the uncertainty of that mean, photons summed, and track_id, n_frames,
    last_frame. Frame blocks are linked in parallel with an exact seam rule: the result
    equals one sequential pass.

    Example: smlmscale link locs.parquet -o linked.parquet --radius 50 --max-dark 1
    """
    from smlmscale.postprocess.link import prepare_link, run_link

    plan = prepare_link(locs, output, settings=L(**given_settings(ctx, L)), format=to_format,
                        keep_all=keep_all, overwrite=overwrite)
    with dask_cluster(ctx) as client:
        result = run_link(plan, client=client)
    what = "localizations with their track" if keep_all else "merged rows"
    say(ctx, f"wrote {result.path}: {result.rows} {what}; {result.tracks} tracks from "
             f"{result.localizations} localizations "
             f"({result.localizations / max(result.tracks, 1):.2f} per track)")
