"""``smlmscale preprocess``: ordered filter steps over an OME-Zarr movie or section stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import command_line, dask_cluster, global_options, say
from smlmscale.cli._progress import progress_bar
from smlmscale.preprocess.registry import STEP_MODULES

_STEPS_HELP = (
    "Steps in order, separated by ';': name, then optionally ':' and key=value pairs "
    "(a bare first value is the step's main parameter), e.g. \"offset:100; background:min; "
    "blur:sigma=1.0; tophat:radius=10; normalize:mode=global,subtract=0,divide=250\"; "
    f"or @FILE (YAML/JSON list of steps). Steps: {', '.join(STEP_MODULES)}.")


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
    from smlmscale.preprocess.run import prepare_preprocess, run_preprocess

    plan = prepare_preprocess(input, output, steps=steps, device=device, dtype=dtype,
                              overwrite=overwrite, command=command_line())
    with dask_cluster(ctx) as client, progress_bar(global_options(ctx), "preprocess") as update:
        result = run_preprocess(plan, client=client, progress=update)
    t, h, w = result.shape
    unit = "frames" if result.axes[0] == "t" else "sections"
    say(ctx, f"wrote {result.path}: {t} {unit} of {h}x{w} {result.dtype} "
             f"({result.steps}) on {result.device}, chunks {'x'.join(map(str, result.chunks))}, "
             f"in {result.seconds:.1f} s ({result.frames_per_s:.0f} input {unit}/s, "
             f"{result.mib_per_s:.0f} MiB/s)")
