"""``smlmscale predict IN.zarr --model MODEL -o LOCS``: tiled inference across the cluster."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, global_options, say
from smlmscale.cli._progress import progress_bar
from smlmscale.errors import InputError
from smlmscale.predict.settings import PredictSettings

_DEFAULTS = PredictSettings()


def parse_frames(text: str | None) -> tuple[int, int] | None:
    """``"a:b"`` -> ``(a, b)``; ``":b"`` starts at 0; ``"a:"`` runs to the end.

    >>> parse_frames("100:200")
    (100, 200)
    """
    if text is None:
        return None
    try:
        first, stop = text.split(":")
        return int(first or 0), int(stop) if stop else 2**62
    except ValueError:
        raise InputError(f"--frames must be FIRST:STOP, got {text!r}",
                         hint="e.g. --frames 0:1000") from None


def _precheck(input: Path, model: Path, output: Path, settings: PredictSettings, *,
              overwrite: bool) -> None:
    """The cheap checks, before a cluster starts: model folder, movie, geometry, output."""
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.io.tables import TableMeta
    from smlmscale.io.tables.writer import prepare_output
    from smlmscale.predict.settings import check_geometry
    from smlmscale.io.modeldir import read_model_json

    meta = read_model_json(model)
    store = open_image_store(input)
    check_geometry(store, meta, settings, path=str(input))
    settings.frame_range(store.array.shape[0], path=str(input))
    prepare_output(output, meta=TableMeta(pixel_size_nm=meta.get("pixel_size_nm")),
                   format=None, overwrite=overwrite)


def _precheck_stack(input: Path, model: Path, output: Path, rois: Path, settings, *,
                    overwrite: bool) -> None:
    """The cheap checks of a section-stack run, before a cluster starts."""
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.io.tables import TableMeta
    from smlmscale.io.tables.writer import prepare_output
    from smlmscale.io.rois import read_rois
    from smlmscale.predict.run_sections import check_stack
    from smlmscale.io.modeldir import read_model_json

    meta = read_model_json(model)
    store = open_image_store(input)
    check_stack(store, meta, read_rois(rois), settings, path=str(input), model=str(model))
    prepare_output(output, meta=TableMeta(pixel_size_nm=meta.get("pixel_size_nm")),
                   format=None, overwrite=overwrite)


def _predict_stack(ctx: typer.Context, input: Path, model: Path, output: Path, rois: Path, *,
                   settings, resume: bool, overwrite: bool) -> None:
    from smlmscale.predict.run_sections import predict_sections

    _precheck_stack(input, model, output, rois, settings, overwrite=overwrite)
    command = shlex.join(["smlmscale", *sys.argv[1:]])
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "predict ROI tiles") as bar:
        result = predict_sections(input, model, output, rois=rois, client=client,
                                  settings=settings, resume=resume, overwrite=overwrite,
                                  command=command,
                                  progress=lambda done, total: bar(done, total, 0))
    say(ctx, f"wrote {result.path}: {result.points} 3D points from {result.tiles} ROI tiles "
             f"in {result.sections} sections, {result.seconds:.1f} s"
             + (f" ({result.tasks_resumed} of {result.tasks} tasks resumed)"
                if result.tasks_resumed else ""))


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
        "comes from the extension (.parquet, .csv ThunderSTORM, .hdf5 Picasso).",
        show_default=False)],
    threshold: Annotated[float, typer.Option(
        "--threshold", help="Confidence threshold (about 1 for a clear emitter).")
    ] = _DEFAULTS.threshold,
    confidence: Annotated[str, typer.Option(
        "--confidence", help="peak (relative to one emitter's target peak) or sum (3x3).")
    ] = _DEFAULTS.confidence,
    density_out: Annotated[Optional[Path], typer.Option(
        "--density-out", metavar="DENSITY.zarr",
        help="Also write the network density (upsampled grid) as OME-Zarr.")] = None,
    tile: Annotated[int, typer.Option(
        "--tile", help="Tile core side, upsampled px.")] = _DEFAULTS.tile,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", help="Tiles per model call.")] = _DEFAULTS.batch_size,
    frames: Annotated[Optional[str], typer.Option(
        "--frames", metavar="FIRST:STOP", help="Predict these frames only.")] = None,
    frames_per_block: Annotated[int, typer.Option(
        "--frames-per-block", help="Frames per task.")] = _DEFAULTS.frames_per_block,
    rois: Annotated[Optional[Path], typer.Option(
        "--rois", metavar="ROIS.csv", help="Section stacks (counts models): the ROI tiles "
        "to predict (roi, section, x, y, size); writes 3D points.", show_default=False)
    ] = None,
    section_thickness: Annotated[Optional[float], typer.Option(
        "--section-thickness", metavar="NM", help="With --rois: section thickness, nm "
        "(default: the stack's own).", show_default=False)] = None,
    pixel_size: Annotated[Optional[float], typer.Option(
        "--pixel-size", metavar="NM", help="Override the movie's pixel size.",
        show_default=False)] = None,
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
    from smlmscale.predict.run import predict_movie

    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other",
                         hint="--resume continues an interrupted run, --overwrite starts again")
    if rois is not None:
        from smlmscale.predict.run_sections import StackSettings

        for name, value in (("--density-out", density_out), ("--frames", frames)):
            if value is not None:
                raise InputError(f"{name} is for movies, not --rois section stacks",
                                 hint=f"leave out {name}")
        settings = StackSettings(section_thickness_nm=section_thickness, min_count=threshold,
                                 batch_size=batch_size, pixel_size_nm=pixel_size)
        _predict_stack(ctx, input, model, output, rois, settings=settings, resume=resume,
                       overwrite=overwrite)
        return
    if section_thickness is not None:
        raise InputError("--section-thickness goes with --rois (section stacks)",
                         hint="give the ROI list with --rois, or leave it out")
    settings = PredictSettings(tile=tile, batch_size=batch_size, threshold=threshold,
                               confidence=confidence, frames=parse_frames(frames),
                               frames_per_block=frames_per_block, pixel_size_nm=pixel_size)
    _precheck(input, model, output, settings, overwrite=overwrite)
    command = shlex.join(["smlmscale", *sys.argv[1:]])
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "predict blocks") as bar:
        result = predict_movie(input, model, output, client=client, settings=settings,
                               density_out=density_out, resume=resume, overwrite=overwrite,
                               command=command, progress=lambda done, total: bar(done, total, 0))
    say(ctx, f"wrote {result.path}: {result.rows} localizations in {result.frames} frames, "
             f"{result.frames_per_second:.1f} frames/s"
             + (f" ({result.blocks_resumed} of {result.blocks} blocks resumed)"
                if result.blocks_resumed else "")
             + (f"; density {result.density}" if result.density else ""))
    for note in result.notes:
        say(ctx, f"note: {note}")
