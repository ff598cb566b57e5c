"""The demo's locnet model: trained on the fly, scored beside the deepstorm model.

``train --simulate locnet_sim.yaml --model locnet`` (no patch set: the simulator makes
new seeded samples every step) -> ``predict`` the frames the deepstorm model predicted ->
``evaluate`` against the same truth; then one table of both models' Jaccard, lateral RMSE,
RMSE over the CRLB and frames/s. Each step is a command line
(:func:`smlmscale.cli.demo_steps.locnet_commands`) run through the typer app; the demo
itself only writes the parameter file and the truth of the predicted frames.
"""

from __future__ import annotations

from collections.abc import Callable

from smlmscale.cli.demo_figures import Trained, scores, write_truth_of_frames
from smlmscale.cli.demo_runner import StepRunner
from smlmscale.cli.demo_steps import DemoSettings, MovieFiles, locnet_commands, shown


def run_locnet_demo(files: MovieFiles, *, run: StepRunner, settings: DemoSettings,
                    report: Callable[[str], None]) -> dict | None:
    """Train, predict and score the locnet model; its figures.

    Parameters
    ----------
    files : MovieFiles
        The movie half's files (the ingested store is predicted).
    run : StepRunner
        Runs (and echoes) each command line.
    settings : DemoSettings
        ``settings.locnet`` holds the training; the predicted frames are the deepstorm
        model's.
    report : callable
        Receives one line per figure.

    Returns
    -------
    dict or None
        ``evaluate --json``'s metrics plus ``frames_per_s`` (the whole predict command)
        and ``model``; None when predict found nothing (exit 2).

    Raises
    ------
    StepFailed
        A command exited with another non-zero code.
    """
    loc = settings.locnet
    commands = locnet_commands(files, settings)
    files.locnet_params.write_text(loc.yaml_text())
    report(f"# the demo wrote {shown(files.locnet_params)}: the ranges of the simulated "
           "training data (density, photons, background, PSF sigma)")
    run(commands["train"]).check()
    trained = Trained.read(files.locnet_model)
    report(f"  {trained.kept_line()} on {trained.device}, "
           f"{loc.epochs * loc.steps_per_epoch * loc.batch_size} simulated samples")
    ran = run(commands["predict"])
    if ran.exit_code == 2:
        report("  no localization table (see predict's message)")
        return None
    ran.check()
    frames = settings.predicted_frames
    if not files.predicted_truth.exists():
        write_truth_of_frames(files.truth, files.predicted_truth, frames=frames)
    figures = scores(run(commands["evaluate"], capture=True).check().stdout)
    return {**figures, "frames_per_s": frames / ran.seconds, "model": str(files.locnet_model)}


def comparison_lines(models: dict[str, dict | None]) -> list[str]:
    """The side-by-side table: model, Jaccard, RMSE (nm), RMSE/CRLB, frames/s."""
    lines = [f"  {'model':<10} {'Jaccard':>8} {'RMSE nm':>8} {'RMSE/CRLB':>10} "
             f"{'frames/s':>9}"]
    for name, s in models.items():
        if s is None:
            lines.append(f"  {name:<10} {'(no localizations)':>38}")
            continue
        ratio = s.get("rmse_over_crlb")
        rmse = s.get("rmse_lateral_nm")
        lines.append(f"  {name:<10} {s['jaccard']:>8.3f} "
                     f"{(f'{rmse:.1f}' if rmse is not None else 'n/a'):>8} "
                     f"{(f'{ratio:.2f}' if ratio else 'n/a'):>10} "
                     f"{s.get('frames_per_s', float('nan')):>9.2f}")
    return lines


__all__ = ["comparison_lines", "run_locnet_demo"]
