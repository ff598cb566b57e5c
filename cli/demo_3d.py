"""The demo's 3D leg (seed 004, Deep-STORM3D): a pupil PSF to 3D localizations.

psf (a small pupil grid with the built-in astigmatism mask) -> simulate --psf
(independent frames of 1-3 emitters, as the seed's training images) -> patches --kind
deepstorm3d -> train --model deepstorm3d (a small network, a few epochs) -> simulate a
separate test movie -> predict --format deepstorm3d -> evaluate. The demo prints the
axial RMSE beside the best fixed-z guess (the truth's z spread), the figure that says the
model reads z from the PSF's shape. Each step is a command line (:func:`commands`) run
through the typer app; the demo itself only cuts the test truth to its detectable
emitters. (:mod:`smlmscale.cli.demo_steps` holds this leg's settings in
:class:`~smlmscale.cli.demo_steps.DemoSettings`, so its names are imported lazily here.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smlmscale.cli.demo_figures import Trained, scores, write_truth_of_frames
from smlmscale.cli.demo_runner import StepRunner


@dataclass(frozen=True)
class Demo3dSettings:
    """The 3D leg's sizes (a 101-sample pupil grid: 60 um SLM pixels).

    Attributes
    ----------
    z_range_nm : (float, float)
        Depths covered by the PSF file and the emitters, nm (the focus is at 1500 nm).
    train_frames, test_frames : int
        Independent training frames (``patch_px`` square) and test frames (``test_px``).
    patch_px, test_px : int
        Frame sides, camera px (110 nm).
    z_voxels, upsampling : int
        The voxel grid: slices over the z range, lateral voxels per camera pixel.
    epochs, filters : int
        Training of the small network (maximal dilation 4).
    threshold : float
        Predict's threshold, a fraction of the scaling factor.
    seed : int
        Seeds the training movie (the test movie: ``seed + 6``) and the training.
    """

    z_range_nm: tuple[float, float] = (1000.0, 2000.0)
    train_frames: int = 1000
    test_frames: int = 40
    patch_px: int = 16
    test_px: int = 32
    z_voxels: int = 21
    upsampling: int = 2
    epochs: int = 10
    filters: int = 32
    threshold: float = 0.02
    seed: int = 1


@dataclass(frozen=True)
class Files3d:
    """The 3D leg's files (:meth:`under` the demo folder)."""

    psf: Path
    train_sim: Path
    train_truth: Path
    patches: Path
    model: Path
    test_sim: Path
    test_truth: Path
    scored_truth: Path
    locs: Path

    @classmethod
    def under(cls, out: Path) -> Files3d:
        return cls(psf=out / "astig.psf.zarr", train_sim=out / "train3d_sim.zarr",
                   train_truth=out / "train3d_sim_truth.parquet", patches=out / "train3d.zarr",
                   model=out / "model3d", test_sim=out / "test3d.zarr",
                   test_truth=out / "test3d_truth.parquet",
                   scored_truth=out / "test3d_truth_detectable.parquet",
                   locs=out / "locs3d.csv")


def commands(files: Files3d, s: Demo3dSettings) -> dict[str, list[str]]:
    """The 3D leg's command lines (argv after ``smlmscale``), by step, in order."""
    from smlmscale.cli.demo_steps import shown

    f = {name: shown(path) for name, path in vars(files).items()}
    lo, hi = (f"{v:g}" for v in s.z_range_nm)
    return {
        "psf": ["psf", "-o", f["psf"], "--builtin", "astigmatism", "--slm-pixel", "60",
                "--pixel-size", "110", "--z-range", lo, hi, "--z-step", "50", "--size", "15"],
        "simulate_train": ["simulate", "-o", f["train_sim"], "--psf", f["psf"],
                           "--emitters-per-frame", "1", "3", "--frames", str(s.train_frames),
                           "--size", str(s.patch_px), "--seed", str(s.seed)],
        "patches": ["patches", f["train_sim"], "--locs", f["train_truth"], "-o", f["patches"],
                    "--kind", "deepstorm3d", "--z-voxels", str(s.z_voxels), "--patch-size",
                    str(s.patch_px), "--upsampling", str(s.upsampling)],
        "train": ["train", f["patches"], "-o", f["model"], "--model", "deepstorm3d",
                  "--epochs", str(s.epochs), "--batch-size", "4", "--filters", str(s.filters),
                  "--dilation-max", "4", "--lr-patience", "3", "--seed", str(s.seed)],
        "simulate_test": ["simulate", "-o", f["test_sim"], "--psf", f["psf"],
                          "--emitters-per-frame", "2", "6", "--frames", str(s.test_frames),
                          "--size", str(s.test_px), "--seed", str(s.seed + 6)],
        "predict": ["predict", f["test_sim"], "--model", f["model"], "-o", f["locs"],
                    "--format", "deepstorm3d", "--threshold", f"{s.threshold:g}"],
        "evaluate": ["evaluate", f["locs"], "--truth", f["scored_truth"], "--tolerance-axial",
                     "1000000", "--json"],
    }


def run_3d_demo(out: Path, *, run: StepRunner, settings: Demo3dSettings,
                report: Callable[[str], None]) -> dict | None:
    """Run the 3D leg into folder ``out``; its figures.

    Returns
    -------
    dict or None
        ``evaluate --json``'s metrics plus ``fixed_z_rmse_nm`` (the truth's z standard
        deviation, the RMSE of the best constant guess), ``model`` and ``locs``; None when
        predict found nothing (exit 2).

    Raises
    ------
    StepFailed
        A command exited with another non-zero code.
    """
    from smlmscale.cli.demo_steps import shown
    from smlmscale.io.tables import read_table

    files, s = Files3d.under(out), settings
    steps = commands(files, s)
    for name in ("psf", "simulate_train", "patches", "train"):
        run(steps[name]).check()
    report(f"  {Trained.read(files.model).kept_line()}")
    run(steps["simulate_test"]).check()
    ran = run(steps["predict"])
    if ran.exit_code == 2:
        report("  no 3D localizations (see predict's message)")
        return None
    ran.check()
    write_truth_of_frames(files.test_truth, files.scored_truth, frames=s.test_frames)
    report(f"# the demo wrote {shown(files.scored_truth)}: the test truth's detectable "
           "emitters")
    figures = scores(run(steps["evaluate"], capture=True).check().stdout)
    fixed = float(read_table(files.scored_truth)[0]["z_nm"].std())
    report(f"  3D: Jaccard {figures['jaccard']:.3f}, lateral RMSE "
           f"{figures['rmse_lateral_nm']:.1f} nm, axial RMSE {figures['rmse_axial_nm']:.1f} nm "
           f"(best fixed z: {fixed:.0f} nm, {fixed / figures['rmse_axial_nm']:.1f}x worse)")
    return {**figures, "fixed_z_rmse_nm": fixed, "model": str(files.model),
            "locs": str(files.locs)}


__all__ = ["Demo3dSettings", "Files3d", "commands", "run_3d_demo"]
