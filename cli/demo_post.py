"""The demo's post-processing leg: what follows localization, on the locnet table.

predict (the locnet model, the whole movie) -> undrift (RCC of rendered segments) ->
link (one emitter's consecutive-frame localizations merged) -> resolution --frc (two
halves split by frame blocks, the 1/7 threshold). Each step is a command line
(:func:`post_commands`) run through the typer app. The simulated movie has no drift, so
the drift undrift finds measures its own noise on this little data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smlmscale.cli.demo_runner import StepRunner


@dataclass(frozen=True)
class PostDemoSettings:
    """Sizes of the post-processing leg.

    Attributes
    ----------
    segment_frames : int
        Undrift's RCC segment, frames (the demo movie has 600; a shorter movie gets a
        third of its frames).
    link_radius_nm : float
        Link radius, nm (about 3x the locnet model's lateral RMSE).
    max_dark : int
        Frames an emitter may be missed and still be linked.
    frc_pixel_nm : float
        Render pixel of the FRC halves, nm.
    frc_block_frames : int
        The FRC's frame split alternates blocks of this many frames (at most a tenth of
        the movie).
    """

    segment_frames: int = 100
    link_radius_nm: float = 50.0
    max_dark: int = 1
    frc_pixel_nm: float = 10.0
    frc_block_frames: int = 50


@dataclass(frozen=True)
class PostFiles:
    """The leg's files (:meth:`under` the demo folder)."""

    locs: Path
    undrifted: Path
    drift_plot: Path
    linked: Path
    frc_curve: Path
    frc_plot: Path

    @classmethod
    def under(cls, out: Path) -> PostFiles:
        return cls(locs=out / "locnet_all.parquet", undrifted=out / "undrifted.parquet",
                   drift_plot=out / "drift.png", linked=out / "linked.parquet",
                   frc_curve=out / "frc.csv", frc_plot=out / "frc.png")


def post_commands(files: PostFiles, *, store: Path, model: Path, s: PostDemoSettings,
                  frames: int) -> dict[str, list[str]]:
    """The leg's command lines (argv after ``smlmscale``), by step, in order, for a movie
    of ``frames`` frames (undrift needs at least two segments)."""
    from smlmscale.cli.demo_steps import shown

    segment = max(1, min(s.segment_frames, frames // 3))
    block = max(1, min(s.frc_block_frames, frames // 10))
    f = {name: shown(path) for name, path in vars(files).items()}
    return {
        "predict": ["predict", shown(store), "--model", shown(model), "-o", f["locs"]],
        "undrift": ["undrift", f["locs"], "-o", f["undrifted"], "--method", "rcc",
                    "--segment", str(segment), "--plot", f["drift_plot"]],
        "link": ["link", f["undrifted"], "-o", f["linked"], "--radius",
                 f"{s.link_radius_nm:g}", "--max-dark", str(s.max_dark)],
        "resolution": ["resolution", f["linked"], "--frc", "--pixel-size",
                       f"{s.frc_pixel_nm:g}", "--split", "frames", "--block-frames",
                       str(block), "--curve-out",
                       f["frc_curve"], "--plot", f["frc_plot"]],
    }


def run_post_demo(out: Path, *, store: Path, model: Path, run: StepRunner,
                  settings: PostDemoSettings, report: Callable[[str], None]) -> dict | None:
    """Predict the whole movie with the locnet model, undrift, link, measure the FRC.

    Parameters
    ----------
    out : pathlib.Path
        The demo folder.
    store, model : pathlib.Path
        The ingested movie and the locnet model folder.
    run : StepRunner
        Runs (and echoes) each command line.
    settings : PostDemoSettings
        The leg's sizes.
    report : callable
        Receives one line per figure.

    Returns
    -------
    dict or None
        ``rows``, ``max_drift_nm``, ``linked_rows`` and ``frc_resolution_nm`` (None when
        the curve stays above 1/7, or resolution refuses a table too small, exit 2); None
        when predict found nothing (exit 2).

    Raises
    ------
    StepFailed
        A command exited with a non-zero code (predict and resolution: other than 2).
    """
    import numpy as np
    import pandas as pd

    from smlmscale.cli.demo_steps import shown
    from smlmscale.io.tables import read_table

    from smlmscale.io.ome_zarr import open_image_store

    files = PostFiles.under(out)
    frames = open_image_store(store).array.shape[0]
    commands = post_commands(files, store=store, model=model, s=settings, frames=frames)
    ran = run(commands["predict"])
    if ran.exit_code == 2:
        report("  no localization table (see predict's message)")
        return None
    ran.check()
    rows = len(read_table(files.locs)[0])
    run(commands["undrift"]).check()
    drift = pd.read_csv(files.undrifted.with_name(files.undrifted.stem + "_drift.csv"))
    max_drift = float(np.hypot(drift["dx_nm"], drift["dy_nm"]).max())
    report(f"  {rows} localizations; estimated drift up to {max_drift:.1f} nm (the movie "
           f"has none: this is the estimate's noise), plot {shown(files.drift_plot)}")
    run(commands["link"]).check()
    linked = len(read_table(files.linked)[0])
    report(f"  linked {rows} localizations into {linked} ({rows / max(linked, 1):.2f} "
           "frames per emitter on average)")
    figures = {"rows": rows, "max_drift_nm": max_drift, "linked_rows": linked,
               "frc_resolution_nm": None}
    ran = run(commands["resolution"], capture=True)
    if ran.exit_code == 2:     # a short movie's table: too few localizations for an FRC
        report("  no FRC resolution (see resolution's message): more --frames make a "
               "larger table")
        return figures
    found = re.search(r"FRC resolution ([0-9.]+) nm", ran.check().stdout)
    resolution = figures["frc_resolution_nm"] = float(found.group(1)) if found else None
    report("  " + (f"FRC resolution {resolution:.1f} nm" if resolution is not None
                   else "FRC curve above 1/7 up to Nyquist")
           + f" (curve {shown(files.frc_curve)}, plot {shown(files.frc_plot)})")
    return figures


__all__ = ["PostDemoSettings", "PostFiles", "post_commands", "run_post_demo"]
