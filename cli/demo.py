"""``smlmscale demo``: the whole pipeline on simulated data, as the commands a user would type.

The demo is a list of command lines (:mod:`smlmscale.cli.demo_steps`), each echoed as
``$ smlmscale ...`` and then run through this typer app (:mod:`smlmscale.cli.demo_runner`):
simulate a blinking-emitter movie with its truth, also as an OME-TIFF series; ingest the
series and check it equals the simulation; preprocess; cut Deep-STORM patches; train a
small deepstorm model; predict the first frames, score them against the truth and render
them; train a locnet model on simulated data made on the fly, predict and score the same
frames, and print both models side by side (:mod:`smlmscale.cli.demo_locnet`); predict
the whole movie with the locnet model, undrift, link and measure its FRC resolution
(:mod:`smlmscale.cli.demo_post`); convert
the truth to ThunderSTORM CSV and Picasso HDF5; score a jittered copy of the truth (a known
reference for the metrics). Then a 3D leg, an astigmatic pupil PSF to a deepstorm3d
model's 3D localizations (:mod:`smlmscale.cli.demo_3d`), and a serial-section stack to 3D
clusters (:mod:`smlmscale.cli.demo_sections`). All steps share the demo's one Dask cluster.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import dask_cluster, global_options, say
from smlmscale.cli.demo_figures import (Trained, prepare_folder, scores, scores_line,
                                        write_jittered, write_truth_of_frames)
from smlmscale.cli.demo_runner import SCHEDULER_ENV, StepFailed, StepRunner, shared_scheduler
from smlmscale.cli.demo_steps import (DemoSettings, LocnetDemoSettings, MovieFiles,
                                      movie_commands, shown)


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the demo's files.")
                      ] = Path("demo_out"),
    frames: Annotated[int, typer.Option(
        "--frames", min=10, help="Frames to simulate.")] = DemoSettings.frames,
    locnet_epochs: Annotated[int, typer.Option(
        "--locnet-epochs", min=0, help="Epochs of 100 simulated batches to train the locnet "
        "model for (about 15 s each on 2 cores); 0 leaves it out.")
    ] = LocnetDemoSettings.epochs,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace the folder of an earlier demo run.")] = False,
) -> None:
    """Simulate a movie (+ TIFF series), ingest, preprocess, make patches, train, predict,
    evaluate, render; then a section stack through counts, 3D points and clusters.

    Each step is printed as the smlmscale command it runs.
    """
    options = global_options(ctx)
    passed = tuple(flag for flag, on in (("--quiet", options.quiet), ("--debug", options.debug))
                   if on)
    prepare_folder(output, overwrite=overwrite)  # fail before starting a cluster
    try:
        with dask_cluster(ctx) as client:
            locnet = (dataclasses.replace(LocnetDemoSettings(), epochs=locnet_epochs)
                      if locnet_epochs else None)
            figures = run_demo(output, client=client,
                               settings=DemoSettings(frames=frames, locnet=locnet),
                               overwrite=True, report=typer.echo, global_args=passed)
    except StepFailed as exc:
        typer.echo(f"demo stopped: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    evaluation = figures["evaluation"]
    say(ctx, f"demo done: {figures['frames']} frames simulated, ingested and checked; "
             f"{figures['truth_rows']} ground-truth localizations; jittered copy scored "
             f"Jaccard {evaluation['jaccard']:.3f}; deepstorm model in {figures['model']} "
             f"(training curve {figures['curve']}); " + _predicted(figures)
             + _locnet(figures) + _post(figures) + _volume(figures)
             + _sections(figures) + f"files in {output}")


def run_demo(out_dir: str | os.PathLike, *, client, settings: DemoSettings = DemoSettings(),
             overwrite: bool = False, report: Callable[[str], None] = lambda line: None,
             global_args: Sequence[str] = ()) -> dict:
    """Run the demo's command lines into ``out_dir`` on ``client``'s cluster; its figures.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The demo folder (made here; see :func:`~smlmscale.cli.demo_figures.prepare_folder`).
    client : distributed.Client
        Every step connects to its scheduler (``SMLMSCALE_SCHEDULER``, for the run).
    settings : DemoSettings
    overwrite : bool
        Replace an earlier demo's folder.
    report : callable
        Receives each command line (``$ smlmscale ...``) and the figures read after it.
    global_args : sequence of str
        Global options given to every command (``--quiet``, ``--debug``).

    Returns
    -------
    dict
        ``frames``, ``truth_rows``, ``store``, ``compression_ratio``, ``evaluation`` (the
        jittered copy's ``evaluate --json``), ``predicted_evaluation`` (None when predict
        found nothing), ``sections`` (None without that half) and the paths written.

    Raises
    ------
    InputError
        The folder exists (see ``overwrite``) or is not a demo's.
    StepFailed
        A command exited with a non-zero code (it printed why).
    """
    out = prepare_folder(out_dir, overwrite=overwrite)
    run = StepRunner(report=report, global_args=tuple(global_args))
    files = MovieFiles.under(out)
    commands = movie_commands(files, settings)
    address = client.scheduler.address
    with shared_scheduler(address):
        report(f"$ export {SCHEDULER_ENV}={address}   # every step runs on the demo's "
               "Dask cluster")
        figures = _movie(files, commands, run=run, settings=settings, report=report)
        volume = None
        if settings.volume is not None:
            from smlmscale.cli.demo_3d import run_3d_demo

            report("")
            report("# 3D leg (Deep-STORM3D): an astigmatic pupil PSF, a small deepstorm3d "
                   "model, 3D localizations")
            volume = run_3d_demo(out, run=run, settings=settings.volume, report=report)
        sections = None
        if settings.sections is not None:
            from smlmscale.cli.demo_sections import run_section_demo

            sections = run_section_demo(out, run=run, settings=settings.sections,
                                        report=report)
        report("")
        run(commands["info"]).check()
    return {**figures, "sections": sections, "volume": volume}


def _movie(files: MovieFiles, commands: dict[str, list[str]], *, run: StepRunner,
           settings: DemoSettings, report: Callable[[str], None]) -> dict:
    """The movie half: simulate --tiff -> ingest -> preprocess -> patches -> train ->
    predict -> evaluate -> render -> locnet (train --simulate, predict, evaluate) ->
    convert -> evaluate a jittered truth."""
    import numpy as np

    from smlmscale.io.describe import describe_store
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.io.tables import read_table
    from smlmscale.patches.patchset import open_patchset

    s = settings
    run(commands["simulate"]).check()
    sim = open_image_store(files.sim)
    (t, h, w), truth = sim.array.shape, read_table(files.truth)[0]
    tiffs = sorted(files.tiffs.glob("*.tif"))
    report(f"  {t} frames of {h}x{w} px, {len(truth) / t:.1f} emitters/frame on average -> "
           f"{shown(files.sim)}, {files.truth.name}, and {len(tiffs)} OME-TIFF files")

    run(commands["ingest"]).check()
    if not np.array_equal(open_image_store(files.store).array[:], sim.array[:]):
        raise RuntimeError("demo: the ingested TIFF series differs from the simulation")
    summary = describe_store(files.store)
    report(f"  {len(tiffs)} TIFF files -> chunks {summary['chunks']}, compression "
           f"{summary['compression_ratio']}x; equals the simulated store")

    ran = run(commands["preprocess"]).check()
    pre = open_image_store(files.preprocessed)
    head = pre.array[:50]
    report(f"  {pre.array.shape[0]} frames, {pre.array.dtype}, in "
           f"{pre.attrs.get('seconds', ran.seconds):.1f} s; 99.9th percentile "
           f"{float(np.percentile(head, 99.9)):.3f}, median {float(np.median(head)):.3f} "
           "over the first 50 frames")

    run(commands["patches"]).check()
    patches = open_patchset(files.patches)
    n_validation = int(np.count_nonzero(patches.validation[:]))
    report(f"  {len(patches)} patches ({len(patches) - n_validation} train, {n_validation} "
           f"validation): inputs {list(patches.inputs.shape[1:])}")

    run(commands["train"]).check()
    trained = Trained.read(files.model)
    for line in trained.epoch_lines():
        report(f"  {line}")
    report(f"  {trained.kept_line()} on {trained.device}; training curve "
           f"{shown(trained.curve)}")

    predicted = _predict(files, commands, run=run, settings=s, report=report)
    locnet = None
    if s.locnet is not None:
        from smlmscale.cli.demo_locnet import comparison_lines, run_locnet_demo

        locnet = run_locnet_demo(files, run=run, settings=s, report=report)
        report(f"# both models on frames 0-{s.predicted_frames - 1} (frames/s: the whole "
               "predict command, cluster start and model loading included)")
        for line in comparison_lines({"deepstorm": predicted, "locnet": locnet}):
            report(line)
    post = None
    if s.post is not None and locnet is not None:
        from smlmscale.cli.demo_post import run_post_demo

        report("# after localization: the locnet model on the whole movie, undrifted, "
               "linked, its FRC resolution")
        post = run_post_demo(files.store.parent, store=files.store, model=files.locnet_model,
                             run=run, settings=s.post, report=report)

    run(commands["convert_csv"]).check()
    run(commands["convert_hdf5"]).check()
    report(f"  {len(truth)} localizations as ThunderSTORM CSV and Picasso HDF5 (+ .yaml)")

    # No command jitters a table: the demo writes the stand-in prediction itself.
    write_jittered(files.truth, files.jittered, field_nm=(h * sim.pixel_size_nm,
                                                          w * sim.pixel_size_nm),
                   jitter_nm=s.jitter_nm, drop_fraction=s.drop_fraction,
                   spurious_fraction=s.spurious_fraction, seed=s.seed + 1)
    report(f"# the demo wrote {shown(files.jittered)}: the truth jittered by {s.jitter_nm:g} "
           f"nm, {100 * s.drop_fraction:g} % dropped, {100 * s.spurious_fraction:g} % "
           "spurious (a known reference for the metrics)")
    evaluation = scores(run(commands["evaluate_jittered"], capture=True).check().stdout)
    ratio = evaluation.get("rmse_over_crlb")
    report(f"  {scores_line(evaluation)}, RMSE/CRLB " + (f"{ratio:.2f}" if ratio else "n/a"))
    return {"frames": t, "truth_rows": len(truth), "store": str(files.store),
            "preprocessed": str(files.preprocessed), "patches": str(files.patches),
            "n_patches": len(patches), "model": trained.path, "curve": trained.curve,
            "train_best": trained.best, "train_first": trained.first,
            "predicted_evaluation": predicted, "locnet_evaluation": locnet, "post": post,
            "render": str(files.image) if predicted is not None else None,
            "compression_ratio": summary["compression_ratio"], "evaluation": evaluation,
            "predicted": str(files.jittered), "truth": str(files.truth)}


def _predict(files: MovieFiles, commands: dict[str, list[str]], *, run: StepRunner,
             settings: DemoSettings, report: Callable[[str], None]) -> dict | None:
    """Predict the first frames with the demo model, score them, render them.

    None when predict refuses (exit 2): on a tiny demo's data, no localization reached
    the threshold.
    """
    from smlmscale.io.tables import read_table

    ran = run(commands["predict"])
    if ran.exit_code == 2:
        report("  no localization table (see predict's message): the model is undertrained "
               "on this little data (more --frames make more patches)")
        return None
    ran.check()
    frames = settings.predicted_frames
    fps = frames / ran.seconds
    report(f"  {len(read_table(files.locs)[0])} localizations in {frames} frames, "
           f"{fps:.2f} frames/s (the whole command)")
    # evaluate scores whole tables: the demo cuts the truth to the predicted frames itself.
    write_truth_of_frames(files.truth, files.predicted_truth, frames=frames)
    report(f"# the demo wrote {shown(files.predicted_truth)}: the truth of frames "
           f"0-{frames - 1}, detectable emitters only")
    predicted = scores(run(commands["evaluate_predicted"], capture=True).check().stdout)
    predicted["frames_per_s"] = fps
    report(f"  {scores_line(predicted)}")
    run(commands["render"]).check()
    report(f"  rendered image {shown(files.image)}")
    return predicted


def _sections(figures: dict) -> str:
    sections = figures.get("sections")
    if not sections:
        return ""
    return (f"section stack: {sections['n_clusters']} 3D clusters found, "
            f"{sections['matched']} of {sections['simulated_clusters']} simulated ones "
            f"recovered ({100 * sections['recovered']:.0f} %; {sections['clusters']}); ")


def _volume(figures: dict) -> str:
    volume = figures.get("volume")
    if not volume:
        return ""
    return (f"3D deepstorm3d model: axial RMSE {volume['rmse_axial_nm']:.0f} nm against "
            f"{volume['fixed_z_rmse_nm']:.0f} nm for the best fixed z, Jaccard "
            f"{volume['jaccard']:.3f}; ")


def _predicted(figures: dict) -> str:
    predicted = figures["predicted_evaluation"]
    if predicted is None:
        return "its predictions: none above the threshold; "
    return (f"its predictions scored Jaccard {predicted['jaccard']:.3f}, RMSE "
            f"{predicted['rmse_lateral_nm']:.1f} nm, efficiency "
            f"{predicted['efficiency_lateral']:.1f} % (image {figures['render']}); ")


def _post(figures: dict) -> str:
    post = figures.get("post")
    if not post:
        return ""
    frc = post["frc_resolution_nm"]
    return (f"its whole-movie table undrifted (drift found up to {post['max_drift_nm']:.1f} "
            f"nm), linked {post['rows']} -> {post['linked_rows']} localizations"
            + (f", FRC resolution {frc:.1f} nm; " if frc is not None else "; "))


def _locnet(figures: dict) -> str:
    locnet = figures.get("locnet_evaluation")
    if not locnet:
        return ""
    ratio = locnet.get("rmse_over_crlb")
    return (f"locnet model (trained on the fly) scored Jaccard {locnet['jaccard']:.3f}, RMSE "
            f"{locnet['rmse_lateral_nm']:.1f} nm"
            + (f" ({ratio:.2f}x the CRLB)" if ratio else "")
            + f", {locnet['frames_per_s']:.2f} frames/s; ")
