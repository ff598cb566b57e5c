"""The command lines of ``smlmscale demo``: its sizes, its files, and one argv per step.

The demo is these argv vectors, run in order through the typer app
(:mod:`smlmscale.cli.demo_runner`); what the demo computes between them (checks, figures, the
few inputs no command makes) is in :mod:`smlmscale.cli.demo` and
:mod:`smlmscale.cli.demo_sections`. Every path is written as a user would type it
(relative to the working directory when below it), so the printed command runs as printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from smlmscale.cli.demo_3d import Demo3dSettings
from smlmscale.cli.demo_post import PostDemoSettings


@dataclass(frozen=True)
class SectionDemoSettings:
    """The section-stack half (the seed's geometry: STORM-tiffs at 15.5 nm, 64 px tiles).

    Attributes
    ----------
    n_sections, size_px, n_clusters : int
        Stack: sections of ``size_px`` square, synapse-like clusters in it.
    pixel_size_nm, section_thickness_nm : float
        Lateral pixel and section thickness, nm.
    steps : str
        Preprocessing (``smlmscale preprocess --steps``): the seed's soft saturation and blur.
    train_epochs, batch_size : int
        Training of the counts model.
    eps_nm, eps_z_nm : float
        DBSCAN radii, lateral and axial (two sections), nm.
    min_samples : int
        DBSCAN core-point neighbours.
    randomize : int
        Randomized copies of each cluster (the control).
    match_nm : float
        Centroid distance within which a recovered cluster matches a simulated one, nm.
    seed : int
        Seeds the stack, the training and the randomization.
    """

    n_sections: int = 16
    size_px: int = 384
    n_clusters: int = 12
    pixel_size_nm: float = 15.5
    section_thickness_nm: float = 70.0
    steps: str = "saturate:knee=0.5; blur:sigma=1.0"
    train_epochs: int = 10
    batch_size: int = 8
    eps_nm: float = 80.0
    eps_z_nm: float = 140.0
    min_samples: int = 10
    randomize: int = 5
    match_nm: float = 200.0
    seed: int = 3


@dataclass(frozen=True)
class LocnetDemoSettings:
    """The locnet model of the movie half, trained on the fly (``train --simulate``).

    The ranges of the simulated training data bracket the demo movie's physics (gamma
    photons of mean 2,000, PSF sigma 120-150 nm, 20 photons/px background, 0.3
    emitters/um^2), as a user would bracket their own instrument's.

    Attributes
    ----------
    density_per_um2, photons, background_photons_per_px, sigma_nm : (float, float)
        Ranges of the simulated samples (1/um^2, photons, photons/px, nm).
    steps_per_epoch, epochs, batch_size : int
        Training schedule (about 15 s per epoch of 100 steps on 2 cores).
    seed : int
        Seeds the simulated samples and the weights.
    """

    density_per_um2: tuple[float, float] = (0.1, 3.0)
    photons: tuple[float, float] = (400.0, 6000.0)
    background_photons_per_px: tuple[float, float] = (15.0, 25.0)
    sigma_nm: tuple[float, float] = (115.0, 155.0)
    steps_per_epoch: int = 100
    epochs: int = 10
    batch_size: int = 16
    seed: int = 0

    def yaml_text(self) -> str:
        """The ``train --simulate`` parameter file of these ranges."""
        lines = ["# smlmscale demo: ranges of the simulated locnet training data"]
        for key in ("density_per_um2", "photons", "background_photons_per_px", "sigma_nm"):
            lo, hi = getattr(self, key)
            lines.append(f"{key}: [{lo:g}, {hi:g}]")
        lines.append(f"seed: {self.seed}")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DemoSettings:
    """Size of the demo data.

    Attributes
    ----------
    frames : int
        Frames simulated.
    size_px : int
        Frame edge in px (100 nm pixels).
    density_per_um2 : float
        Active emitters per um^2 in each frame.
    frames_per_tiff : int
        Frames per file of the TIFF series (the series is split across files).
    jitter_nm : float
        Standard deviation of the Gaussian error added to the truth (per axis, nm).
    drop_fraction, spurious_fraction : float
        Fractions of truth rows dropped, and of spurious rows added, by the stand-in predictor.
    patch_size_px, upsampling : int
        Deep-STORM patches: side in camera px and upsampling factor (16 x 4 -> 64 x 64).
    target_sigma_px : float
        Blur of the training targets, upsampled px (2 x 25 nm).
    train_epochs, batch_size : int
        Training of the small deepstorm model (about 10 s per epoch on 2 cores).
    predict_frames : int
        Frames predicted with it (about 1 frame/s on 2 CPU cores), then scored against the
        truth and rendered.
    threshold : float
        Confidence threshold of the prediction.
    steps : str
        Preprocessing steps (``smlmscale preprocess --steps``): camera baseline, the
        per-pixel temporal minimum (seed 004), a white top-hat a little wider than the
        PSF (seed 001 uses radius 10 on its wider spots) and a global normalization.
    seed : int
        Seeds the movie, the patches, the training and the jitter (``seed + 1``).
    locnet : LocnetDemoSettings or None
        The locnet model beside the deepstorm one (:mod:`smlmscale.cli.demo_locnet`); None
        leaves it out.
    sections : SectionDemoSettings or None
        The section-stack half (:mod:`smlmscale.cli.demo_sections`); None leaves it out.
    volume : Demo3dSettings or None
        The 3D leg (:mod:`smlmscale.cli.demo_3d`); None leaves it out.
    post : PostDemoSettings or None
        Undrift, link and FRC of the locnet model's table of the whole movie
        (:mod:`smlmscale.cli.demo_post`); None, or no locnet model, leaves it out.
    """

    frames: int = 600
    size_px: int = 96
    density_per_um2: float = 0.3
    frames_per_tiff: int = 250
    jitter_nm: float = 20.0
    drop_fraction: float = 0.05
    spurious_fraction: float = 0.03
    patch_size_px: int = 16
    upsampling: int = 4
    target_sigma_px: float = 2.0
    train_epochs: int = 6
    batch_size: int = 16
    predict_frames: int = 60
    threshold: float = 0.15
    steps: str = ("offset:100; background:min; tophat:radius=4; "
                  "normalize:mode=global,subtract=0,divide=250")
    seed: int = 0
    locnet: LocnetDemoSettings | None = LocnetDemoSettings()
    sections: SectionDemoSettings | None = SectionDemoSettings()
    volume: Demo3dSettings | None = Demo3dSettings()
    post: PostDemoSettings | None = PostDemoSettings()

    @property
    def predicted_frames(self) -> int:
        """Frames the prediction covers (``predict --frames`` stops at the movie's end)."""
        return min(self.predict_frames, self.frames)


def shown(path: str | os.PathLike) -> str:
    """A path as a user would type it: relative to the working directory when below it."""
    relative = os.path.relpath(path)
    return os.fspath(path) if relative.startswith("..") else relative


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class MovieFiles:
    """The files of the movie half (:meth:`under` a demo folder).

    ``truth`` and ``tiffs`` are where ``simulate`` puts them by default
    (``<OUT stem>_truth.parquet``, ``<OUT stem>_tiff/``); ``predicted_truth`` and
    ``jittered`` are written by the demo itself, between commands.
    """

    sim: Path
    truth: Path
    tiffs: Path
    store: Path
    preprocessed: Path
    patches: Path
    model: Path
    locs: Path
    predicted_truth: Path
    image: Path
    truth_csv: Path
    truth_hdf5: Path
    jittered: Path
    locnet_params: Path
    locnet_model: Path
    locnet_locs: Path

    @classmethod
    def under(cls, out: Path) -> MovieFiles:
        """The demo's names in folder ``out``."""
        return cls(sim=out / "sim.zarr", truth=out / "sim_truth.parquet",
                   tiffs=out / "sim_tiff", store=out / "movie.zarr",
                   preprocessed=out / "movie_pre.zarr", patches=out / "train.zarr",
                   model=out / "model", locs=out / "predicted_locs.csv",
                   predicted_truth=out / "sim_truth_predicted.parquet",
                   image=out / "predicted.png", truth_csv=out / "sim_truth.csv",
                   truth_hdf5=out / "sim_truth.hdf5", jittered=out / "jittered_locs.csv",
                   locnet_params=out / "locnet_sim.yaml", locnet_model=out / "model_loc",
                   locnet_locs=out / "locnet_locs.csv")


def movie_commands(files: MovieFiles, s: DemoSettings) -> dict[str, list[str]]:
    """The movie half's command lines (argv after ``smlmscale``), by step, in order.

    ``evaluate_predicted`` scores against ``files.predicted_truth`` and
    ``evaluate_jittered`` scores ``files.jittered``: the demo writes both tables between
    commands (no command cuts a table to some frames, or jitters one).
    """
    f = {name: shown(path) for name, path in vars(files).items()}
    return {
        "simulate": ["simulate", "-o", f["sim"], "--frames", str(s.frames), "--size",
                     str(s.size_px), "--density", _num(s.density_per_um2), "--seed",
                     str(s.seed), "--tiff", "--tiff-frames", str(s.frames_per_tiff)],
        "ingest": ["ingest", f["tiffs"], "-o", f["store"]],
        "preprocess": ["preprocess", f["store"], "-o", f["preprocessed"], "--steps", s.steps],
        "patches": ["patches", f["store"], "--locs", f["truth"], "-o", f["patches"], "--kind",
                    "deepstorm", "--patch-size", str(s.patch_size_px), "--upsampling",
                    str(s.upsampling), "--per-frame", "1", "--min-emitters", "1",
                    "--target-sigma", _num(s.target_sigma_px), "--seed", str(s.seed)],
        "train": ["train", f["patches"], "-o", f["model"], "--model", "deepstorm", "--epochs",
                  str(s.train_epochs), "--batch-size", str(s.batch_size), "--seed",
                  str(s.seed)],
        "predict": ["predict", f["store"], "--model", f["model"], "-o", f["locs"], "--frames",
                    f"0:{s.predict_frames}", "--threshold", _num(s.threshold)],
        "evaluate_predicted": ["evaluate", f["locs"], "--truth", f["predicted_truth"],
                               "--json"],
        "render": ["render", f["locs"], "-o", f["image"], "--pixel-size", "20", "--widefield",
                   f["store"]],
        "convert_csv": ["convert", f["truth"], "-o", f["truth_csv"]],
        "convert_hdf5": ["convert", f["truth"], "-o", f["truth_hdf5"]],
        "evaluate_jittered": ["evaluate", f["jittered"], "--truth", f["truth"], "--json"],
        "info": ["info", f["store"]],
    }


def locnet_commands(files: MovieFiles, s: DemoSettings) -> dict[str, list[str]]:
    """The locnet model's command lines: train on the fly from ``files.locnet_params``
    (the demo writes it), predict the same frames as the deepstorm model, evaluate."""
    f = {name: shown(path) for name, path in vars(files).items()}
    loc = s.locnet or LocnetDemoSettings()
    return {
        "train": ["train", "--simulate", f["locnet_params"], "-o", f["locnet_model"],
                  "--model", "locnet", "--steps-per-epoch", str(loc.steps_per_epoch),
                  "--epochs", str(loc.epochs), "--batch-size", str(loc.batch_size),
                  "--seed", str(loc.seed)],
        "predict": ["predict", f["store"], "--model", f["locnet_model"], "-o",
                    f["locnet_locs"], "--frames", f"0:{s.predict_frames}"],
        "evaluate": ["evaluate", f["locnet_locs"], "--truth", f["predicted_truth"], "--json"],
    }


@dataclass(frozen=True)
class SectionFiles:
    """The files of the section half (:meth:`under` a folder).

    ``truth``, ``rois`` and ``clusters_truth`` are where ``simulate --kind sections`` puts
    them: ``<OUT stem>_truth.parquet``, ``<OUT stem>_rois.csv``,
    ``<OUT stem>_clusters.parquet``.
    """

    stack: Path
    truth: Path
    rois: Path
    clusters_truth: Path
    preprocessed: Path
    patches: Path
    model: Path
    points: Path
    clusters: Path

    @classmethod
    def under(cls, out: Path, stem: str = "sections") -> SectionFiles:
        """The demo's names in folder ``out``; the stack is ``<stem>.zarr``."""
        return cls(stack=out / f"{stem}.zarr", truth=out / f"{stem}_truth.parquet",
                   rois=out / f"{stem}_rois.csv", clusters_truth=out / f"{stem}_clusters.parquet",
                   preprocessed=out / f"{stem}_pre.zarr", patches=out / "counts.zarr",
                   model=out / "model_counts", points=out / "points3d.parquet",
                   clusters=out / "clusters")


def section_commands(files: SectionFiles, s: SectionDemoSettings) -> dict[str, list[str]]:
    """The section half's command lines (argv after ``smlmscale``), by step, in order:
    simulate --kind sections -> preprocess -> patches --kind counts -> train --model counts
    -> predict --rois -> cluster (tile sequences)."""
    f = {name: shown(path) for name, path in vars(files).items()}
    return {
        "simulate": ["simulate", "--kind", "sections", "-o", f["stack"], "--sections",
                     str(s.n_sections), "--size", str(s.size_px), "--clusters",
                     str(s.n_clusters), "--pixel-size", _num(s.pixel_size_nm),
                     "--section-thickness", _num(s.section_thickness_nm), "--seed",
                     str(s.seed)],
        "preprocess": ["preprocess", f["stack"], "-o", f["preprocessed"], "--steps", s.steps],
        "patches": ["patches", f["preprocessed"], "--locs", f["truth"], "--rois", f["rois"],
                    "-o", f["patches"], "--kind", "counts"],
        "train": ["train", f["patches"], "-o", f["model"], "--model", "counts", "--epochs",
                  str(s.train_epochs), "--batch-size", str(s.batch_size), "--seed",
                  str(s.seed)],
        "predict": ["predict", f["preprocessed"], "--model", f["model"], "--rois", f["rois"],
                    "-o", f["points"], "--section-thickness", _num(s.section_thickness_nm)],
        "cluster": ["cluster", f["points"], "--rois", f["rois"], "-o", f["clusters"], "--eps",
                    _num(s.eps_nm), "--eps-z", _num(s.eps_z_nm), "--min-samples",
                    str(s.min_samples), "--randomize", str(s.randomize), "--seed", str(s.seed),
                    "--section-thickness", _num(s.section_thickness_nm)],
    }
