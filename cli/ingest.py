"""``smlmscale ingest``: TIFF files, folders or globs -> OME-Zarr."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, global_options, say
from smlmscale.cli._progress import progress_bar
from smlmscale.ingest import IngestSettings, check_output, ingest_tiffs
from smlmscale.ingest.sources import expand_inputs


@app.command("ingest")
def ingest_command(
    ctx: typer.Context,
    inputs: Annotated[List[str], typer.Argument(
        help="TIFF/OME-TIFF/BigTIFF files, folders of frames, or glob patterns; "
             "concatenated in natural order.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="OME-Zarr directory to write.",
                                         show_default=False)],
    pixel_size: Annotated[Optional[float], typer.Option(
        "--pixel-size", help="Pixel size in nm (overrides OME/ImageJ metadata).")] = None,
    chunk_frames: Annotated[Optional[int], typer.Option(
        "--chunk-frames", help="Frames per chunk (default: about 32 MiB per chunk).")] = None,
    tile: Annotated[Optional[int], typer.Option(
        "--tile",
        help="Chunk edge in y,x in px (default: whole frame; 1024 above 2048 px).")] = None,
    shards: Annotated[Optional[int], typer.Option(
        "--shards", help="Frames per shard (Zarr v3), a multiple of the chunk frames.")] = None,
    compressor: Annotated[str, typer.Option(
        "--compressor", help="zstd, lz4 or none (Blosc with bit shuffle).")] = "zstd",
    zarr_format: Annotated[int, typer.Option(
        "--zarr-format", help="3: NGFF 0.5 (default); 2: NGFF 0.4.")] = 3,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted ingest (OUT.partial).")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing output once the new one is complete.")] = False,
) -> None:
    """Convert TIFF stacks to a chunked OME-Zarr movie, in parallel on the Dask cluster."""
    settings = IngestSettings(
        pixel_size_nm=pixel_size, chunk_frames=chunk_frames, tile_px=tile, shard_frames=shards,
        compressor=compressor, zarr_format=zarr_format, resume=resume, overwrite=overwrite)
    check_output(output, overwrite=overwrite, resume=resume)  # fail before starting a cluster
    paths = expand_inputs(inputs)
    command = shlex.join(["smlmscale", *sys.argv[1:]])
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "ingest") as update:
        result = ingest_tiffs(paths, output, client=client, settings=settings, command=command,
                              progress=update)
    t, h, w = result.shape
    reused = (f", {result.regions_reused} verified from the earlier run"
              if result.regions_reused else "")
    say(ctx, f"wrote {result.path}: {t} frames of {h}x{w} {result.dtype} from {result.n_files} "
             f"file(s), chunks {'x'.join(map(str, result.chunks))}, "
             f"{result.regions_written} regions in {result.seconds:.1f} s "
             f"({result.mib_per_s:.0f} MiB/s){reused}")
