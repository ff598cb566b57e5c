"""``smlmscale predict IN.zarr --model MODEL -o LOCS``: tiled inference across the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import (command_line, dask_cluster, given_settings, global_options,
                                    parse_frames, say, settings_option)
from smlmscale.cli._progress import progress_bar
from smlmscale.predict.settings import PredictSettings, StackSettings

P = PredictSettings


def _summary(result) -> str:
    if hasattr(result, "points"):
        return (f"wrote {result.path}: {result.points} 3D points from {result.tiles} ROI tiles "
                f"in {result.sections} sections, {result.seconds:.1f} s"
                + (f" ({result.tasks_resumed} of {result.tasks} tasks resumed)"
                   if result.tasks_resumed else ""))
    return (f"wrote {result.path}: {result.rows} localizations in {result.frames} frames, "
            f"{result.frames_per_second:.1f} frames/s"
            + (f" in {result.precision}" if result.precision != "float32" else "")
            + (f" ({result.blocks_resumed} of {result.blocks} blocks resumed)"
               if result.blocks_resumed else "")
            + (f"; density {result.density}" if result.density else "")
            + (f"; uncertainty histogram {result.histogram}, {result.removed} removed by "
               f"--max-uncertainty" if getattr(result, "histogram", None) else ""))


@app.command("predict")
def predict_command(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(metavar="IN.zarr", help="OME-Zarr movie (t, y, x).",
                                          show_default=False)],
    model: Annotated[Path, typer.Option("--model", metavar="MODEL_DIR",
                                        help="Model folder from smlmscale train.",
                                        show_default=False)],
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="LOCS", help="Localization table to write; the format "
        "comes from the extension (.parquet, .csv ThunderSTORM, .hdf5 Picasso) or --format.",
        show_default=False)],
    table_format: Annotated[Optional[str], typer.Option(
        "--format", metavar="FORMAT", help="Table format of LOCS (see smlmscale convert "
        "--help), e.g. deepstorm3d for a Deep-STORM3D localizations CSV (frame, x, y, z in "
        "nm, intensity), which needs a 3D model.", show_default=False)
    ] = None,
    threshold: Annotated[Optional[float], settings_option(P, "threshold")] = None,
    confidence: Annotated[Optional[str], settings_option(P, "confidence")] = None,
    radius: Annotated[Optional[int], settings_option(P, "radius")] = None,
    density_out: Annotated[Optional[Path], typer.Option(
        "--density-out", metavar="DENSITY.zarr",
        help="Also write the network density (upsampled grid) as OME-Zarr.")] = None,
    tile: Annotated[Optional[int], settings_option(P, "tile")] = None,
    batch_size: Annotated[Optional[int], settings_option(P, "batch_size")] = None,
    frame_range: Annotated[Optional[str], settings_option(
        P, "frames", "--frames", metavar="FIRST:STOP")] = None,
    frames_per_block: Annotated[Optional[int], settings_option(P, "frames_per_block")] = None,
    rois: Annotated[Optional[Path], typer.Option(
        "--rois", metavar="ROIS.csv", help="Section stacks (counts models): the ROI tiles "
        "to predict (roi, section, x, y, size); writes 3D points.", show_default=False)
    ] = None,
    section_thickness_nm: Annotated[Optional[float], settings_option(
        StackSettings, "section_thickness_nm", metavar="NM")] = None,
    pixel_size_nm: Annotated[Optional[float], settings_option(
        P, "pixel_size_nm", metavar="NM")] = None,
    max_uncertainty_nm: Annotated[Optional[float], settings_option(
        P, "max_uncertainty_nm", metavar="NM")] = None,
    precision: Annotated[Optional[str], settings_option(P, "precision")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Keep the blocks an interrupted run wrote.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace existing outputs once the new ones are complete.")
    ] = False,
) -> None:
    """Predict localizations of a movie with a trained model, tile by tile, on every worker.

    With --rois, a counts model predicts the ROI tiles of a section stack as 3D points
    (threshold: the least count a pixel keeps).
    """
    from smlmscale.predict.plan import prepare_predict
    from smlmscale.predict.run import run_predict

    plan = prepare_predict(input, model=model, output=output,
                           settings=PredictSettings(**given_settings(ctx, PredictSettings)),
                           rois=rois, density_out=density_out,
                           frames=parse_frames(frame_range),
                           section_thickness_nm=section_thickness_nm, resume=resume,
                           overwrite=overwrite, command=command_line(), format=table_format)
    label = "predict ROI tiles" if plan.kind == "sections" else "predict blocks"
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), label) as bar:
        result = run_predict(plan, client=client,
                             progress=lambda done, total: bar(done, total, 0))
    say(ctx, _summary(result))
    for note in getattr(result, "notes", ()):
        say(ctx, f"note: {note}")
