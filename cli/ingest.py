"""``smlmscale ingest``: movie files (TIFF, ND2, CZI, Picasso .raw, .dax), folders or globs
-> OME-Zarr."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import (command_line, dask_cluster, given_settings, global_options,
                                    say, settings_option)
from smlmscale.cli._progress import progress_bar
from smlmscale.ingest import IngestSettings, prepare_ingest, run_ingest

S = IngestSettings


@app.command("ingest")
def ingest_command(
    ctx: typer.Context,
    inputs: Annotated[List[str], typer.Argument(
        help="TIFF/OME-TIFF/BigTIFF, ND2, CZI, Picasso .raw (+ .yaml) or .dax (+ .inf) "
             "files, folders of them, or glob patterns; concatenated in natural order.",
        show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="OME-Zarr directory to write.",
                                         show_default=False)],
    pixel_size_nm: Annotated[Optional[float], settings_option(S, "pixel_size_nm")] = None,
    channel: Annotated[Optional[int], settings_option(S, "channel")] = None,
    position: Annotated[Optional[int], settings_option(S, "position")] = None,
    chunk_frames: Annotated[Optional[int], settings_option(S, "chunk_frames")] = None,
    tile_px: Annotated[Optional[int], settings_option(S, "tile_px")] = None,
    shard_frames: Annotated[Optional[int], settings_option(S, "shard_frames")] = None,
    compressor: Annotated[Optional[str], settings_option(S, "compressor")] = None,
    zarr_format: Annotated[Optional[int], settings_option(S, "zarr_format")] = None,
    resume: Annotated[bool, settings_option(S, "resume")] = False,
    overwrite: Annotated[bool, settings_option(S, "overwrite")] = False,
) -> None:
    """Convert movies (TIFF stacks, ND2, CZI, Picasso .raw, .dax) to a chunked OME-Zarr
    movie, in parallel on the Dask cluster.

    Example: smlmscale ingest run1.nd2 -o run1.zarr --channel 1
    """
    settings = IngestSettings.from_mapping(given_settings(ctx, IngestSettings))
    plan = prepare_ingest(inputs, output, settings=settings, command=command_line())
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "ingest") as update:
        result = run_ingest(plan, client=client, progress=update)
    t, h, w = result.shape
    reused = (f", {result.regions_reused} verified from the earlier run"
              if result.regions_reused else "")
    say(ctx, f"wrote {result.path}: {t} frames of {h}x{w} {result.dtype} from {result.n_files} "
             f"file(s), chunks {'x'.join(map(str, result.chunks))}, "
             f"{result.regions_written} regions in {result.seconds:.1f} s "
             f"({result.mib_per_s:.0f} MiB/s){reused}{_plane_text(result.plane)}")


def _plane_text(plane) -> str:
    """``"; took channel 1, position 0"`` for an ND2/CZI plane, ``""`` otherwise."""
    names = {"C": "channel", "P": "position", "S": "scene"}
    taken = [f"{names[axis]} {index}" for axis, index in plane if axis in names]
    if any(axis == "T" for axis, _ in plane):
        taken.append("frames along Z")
    return f"; took {', '.join(taken)}" if taken else ""
