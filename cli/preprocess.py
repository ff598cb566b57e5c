"""``smlmscale preprocess``: ordered filter steps over an OME-Zarr movie or section stack."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, global_options, say
from smlmscale.cli._progress import progress_bar

_STEPS_HELP = (
    "Steps in order, separated by ';': name, then optionally ':' and key=value pairs "
    "(a bare first value is the step's main parameter), e.g. \"offset:100; background:min; "
    "blur:sigma=1.0; tophat:radius=10; normalize:mode=global,subtract=0,divide=250\"; "
    "or @FILE (YAML/JSON list of steps). Steps: offset, background, saturate, blur, tophat, "
    "normalize, sum, crop.")


@app.command("preprocess")
def preprocess_command(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="OME-Zarr movie (t,y,x) or section stack "
                                               "(z,y,x).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="OME-Zarr directory to write.",
                                         show_default=False)],
    steps: Annotated[str, typer.Option("--steps", "-s", help=_STEPS_HELP,
                                       show_default=False)],
    device: Annotated[str, typer.Option(
        "--device", help="cpu (NumPy/SciPy), gpu (CuPy; error without one) or auto.")] = "cpu",
    dtype: Annotated[str, typer.Option(
        "--dtype", help="Output pixel type; integers are rounded and clipped.")] = "float32",
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing output once the new one is complete.")] = False,
) -> None:
    """Filter a movie with lazy Dask graphs (offset, background, blur, top-hat, ...)."""
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.io.outputs import check_output
    from smlmscale.preprocess.base import resolve_backend
    from smlmscale.preprocess.parse import parse_steps
    from smlmscale.preprocess.run import output_dtype, preprocess_store

    parsed = parse_steps(steps)  # fail before starting a cluster
    output_dtype(dtype)
    open_image_store(input)
    check_output(output, overwrite=overwrite)
    backend = resolve_backend(device)
    command = shlex.join(["smlmscale", *sys.argv[1:]])
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "preprocess") as update:
        result = preprocess_store(input, output, steps=parsed, client=client, device=backend,
                                  dtype=dtype, overwrite=overwrite, command=command,
                                  progress=update)
    t, h, w = result.shape
    unit = "frames" if result.axes[0] == "t" else "sections"
    say(ctx, f"wrote {result.path}: {t} {unit} of {h}x{w} {result.dtype} "
             f"({result.steps}) on {result.device}, chunks {'x'.join(map(str, result.chunks))}, "
             f"in {result.seconds:.1f} s ({result.frames_per_s:.0f} input {unit}/s, "
             f"{result.mib_per_s:.0f} MiB/s)")
