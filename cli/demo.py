"""``smlmscale demo``: the whole pipeline on simulated data, with checks at the end."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, say
from smlmscale.cli.info import format_summary
from smlmscale.demo import DemoSettings, prepare_folder, run_demo
from smlmscale.io.describe import describe_path


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the demo's files.")
                      ] = Path("demo_out"),
    frames: Annotated[int, typer.Option(
        "--frames", min=10, help="Frames to simulate.")] = DemoSettings.frames,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace the folder of an earlier demo run.")] = False,
) -> None:
    """Simulate a movie (+ TIFF series), ingest, preprocess, make patches, train, predict,
    evaluate, render; then a section stack through counts, 3D points and clusters."""
    settings = DemoSettings(frames=frames)
    prepare_folder(output, overwrite=overwrite)  # fail before starting a cluster
    with dask_cluster(ctx) as client:
        figures = run_demo(output, client=client, settings=settings, overwrite=True,
                           report=lambda line: typer.echo(line),
                           command=shlex.join(["smlmscale", *sys.argv[1:]]))
    typer.echo(f"\n$ smlmscale info {figures['store']}\n"
               + format_summary(describe_path(figures["store"])) + "\n")
    scores = figures["evaluation"]
    say(ctx, f"demo done: {figures['frames']} frames simulated, ingested and checked; "
             f"{figures['truth_rows']} ground-truth localizations; jittered copy scored "
             f"Jaccard {scores['jaccard']:.3f}; deepstorm model in {figures['model']} "
             f"(training curve {figures['curve']}); " + _predicted(figures)
             + _sections(figures) + f"files in {output}")


def _sections(figures: dict) -> str:
    sections = figures.get("sections")
    if not sections:
        return ""
    return (f"section stack: {sections['n_clusters']} 3D clusters found, "
            f"{sections['matched']} of {sections['simulated_clusters']} simulated ones "
            f"recovered ({100 * sections['recovered']:.0f} %; {sections['clusters']}); ")


def _predicted(figures: dict) -> str:
    scores = figures["predicted_evaluation"]
    if scores is None:
        return "its predictions: none above the threshold; "
    return (f"its predictions scored Jaccard {scores['jaccard']:.3f}, RMSE "
            f"{scores['rmse_lateral_nm']:.1f} nm, efficiency "
            f"{scores['efficiency_lateral']:.1f} % (image {figures['render']}); ")
