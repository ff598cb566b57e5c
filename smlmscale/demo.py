"""The end-to-end demo behind ``smlmscale demo`` and ``make demo``.

At this stage: simulate a blinking-emitter movie with its ground truth, also as
a MicroManager-style OME-TIFF series (``simulate --tiff``); ingest that series
into OME-Zarr on the cluster and check it equals the simulation; preprocess the
ingested movie (offset, temporal-minimum background, top-hat, normalization);
cut a Deep-STORM training patch set from the movie and its truth (``patches``);
train a small deepstorm model on it, streamed from Zarr, and write its training curve
(``train``); predict the first frames with it across the cluster, score the predictions
against the truth and render them beside the summed movie (``predict``, ``evaluate``,
``render``); summarize the store; convert the truth to ThunderSTORM CSV and Picasso
HDF5; score a jittered copy of the truth against the truth (``evaluate``), a known
reference for the metrics. Then a serial-section stack to 3D clusters
(:mod:`smlmscale.demo_sections`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.demo_sections import SectionDemoSettings

MARKER = ".smlmscale-demo"


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
    sections : SectionDemoSettings or None
        The section-stack half (:mod:`smlmscale.demo_sections`); None leaves it out.
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
    sections: SectionDemoSettings | None = SectionDemoSettings()


def jitter_table(truth: pd.DataFrame, *, jitter_nm: float, drop_fraction: float,
                 spurious_fraction: float, field_nm: tuple[float, float],
                 seed: int) -> pd.DataFrame:
    """A stand-in prediction: the truth with Gaussian position errors, misses and false hits.

    Parameters
    ----------
    truth : pandas.DataFrame
        Canonical table (``frame``, ``x_nm``, ``y_nm``, ...).
    jitter_nm : float
        Standard deviation of the error on x and y, nm.
    drop_fraction, spurious_fraction : float
        Fraction of truth rows removed; number of uniform random rows added, as a
        fraction of the truth's rows.
    field_nm : (float, float)
        ``(height, width)`` of the field in nm, where spurious rows fall.
    seed : int

    Returns
    -------
    pandas.DataFrame
        ``frame``, ``x_nm``, ``y_nm``, sorted by frame.
    """
    rng = np.random.default_rng(seed)
    kept = truth.loc[rng.random(len(truth)) >= drop_fraction, ["frame", "x_nm", "y_nm"]]
    kept = kept.assign(x_nm=kept["x_nm"] + rng.normal(0, jitter_nm, len(kept)),
                       y_nm=kept["y_nm"] + rng.normal(0, jitter_nm, len(kept)))
    n_spurious = int(round(spurious_fraction * len(truth)))
    spurious = pd.DataFrame({
        "frame": rng.integers(0, int(truth["frame"].max()) + 1, n_spurious),
        "x_nm": rng.uniform(0, field_nm[1], n_spurious),
        "y_nm": rng.uniform(0, field_nm[0], n_spurious)})
    table = pd.concat([kept, spurious], ignore_index=True)
    return table.sort_values("frame", kind="stable").reset_index(drop=True)


def _shown(path: str | os.PathLike) -> str:
    """A path as a user would type it: relative to the working directory when below it."""
    relative = os.path.relpath(path)
    return os.fspath(path) if relative.startswith("..") else relative


def prepare_folder(out_dir: str | os.PathLike, *, overwrite: bool) -> Path:
    """Create the demo folder; replace an earlier demo's folder only with ``overwrite``.

    A folder that exists and was not made by the demo is never touched.
    """
    out = Path(out_dir)
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise InputError("folder exists and is not a smlmscale demo folder", path=out,
                             hint="choose another -o")
        if (out / MARKER).exists() and not overwrite:
            raise InputError("demo output exists", path=out, hint="pass --overwrite to redo it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by smlmscale demo; --overwrite replaces this folder\n")
    return out


def _train(patch_path: Path, model_dir: Path, settings: DemoSettings,
           report: Callable[[str], None], command: str | None):
    """Train the demo's deepstorm model, reporting each epoch; return the TrainResult."""
    from smlmscale.train.run import train_model
    from smlmscale.train.settings import TrainSettings

    report(f"$ smlmscale train {_shown(patch_path)} -o {_shown(model_dir)} --model deepstorm "
           f"--epochs {settings.train_epochs} --batch-size {settings.batch_size}")

    def epoch_line(epoch: int, epochs: int, logs: dict) -> None:
        report(f"  epoch {epoch}/{epochs}: loss {logs['loss']:.4g}, val_loss "
               f"{logs.get('val_loss', float('nan')):.4g}, {logs['seconds']:.1f} s")

    trained = train_model(patch_path, model_dir, on_epoch=epoch_line, command=command,
                          settings=TrainSettings(model="deepstorm", epochs=settings.train_epochs,
                                                 batch_size=settings.batch_size,
                                                 seed=settings.seed))
    report(f"  kept epoch {trained.best_epoch}: {trained.monitor} {trained.best:.4g} "
           f"(epoch 1: {trained.first:.4g}), {trained.seconds:.0f} s on {trained.device}; "
           f"training curve {_shown(trained.curve)}")
    return trained


def _predict(store_path: Path, model: str, truth_path: str, out: Path, settings: DemoSettings,
             client, report: Callable[[str], None], command: str | None
             ) -> tuple[dict | None, Path | None]:
    """Predict the first frames with the demo model, score them, render them.

    Returns ``(None, None)`` when nothing reaches the threshold (a tiny demo's model).
    """
    from smlmscale.evaluate import EvaluateSettings, evaluate_tables
    from smlmscale.io.tables import read_table
    from smlmscale.predict.run import predict_movie
    from smlmscale.predict.settings import PredictSettings
    from smlmscale.render.run import render_table

    locs = out / "predicted_locs.csv"
    frames = settings.predict_frames
    report(f"$ smlmscale predict {_shown(store_path)} --model {_shown(model)} -o "
           f"{_shown(locs)} --frames 0:{frames} --threshold {settings.threshold:g}")
    try:
        result = predict_movie(store_path, model, locs, client=client, command=command,
                               settings=PredictSettings(threshold=settings.threshold,
                                                        frames=(0, frames)))
    except InputError as exc:
        if "no localization" not in exc.message:
            raise
        report("  no localization reached the threshold: the model is undertrained on "
               "this little data (more --frames make more patches)")
        return None, None
    report(f"  {result.rows} localizations in {result.frames} frames, "
           f"{result.frames_per_second:.2f} frames/s")
    truth, meta = read_table(truth_path)
    truth = truth[truth["frame"] < result.frames]
    if "detectable" in truth:
        truth = truth[truth["detectable"] == 1]
    scores = evaluate_tables(read_table(locs)[0], truth, settings=EvaluateSettings(),
                             truth_meta=meta).to_dict()
    report(f"$ smlmscale evaluate {_shown(locs)} --truth {_shown(truth_path)}   "
           f"# frames 0-{frames - 1}")
    report(f"  Jaccard {scores['jaccard']:.3f}, RMSE lateral {scores['rmse_lateral_nm']:.1f} nm, "
           f"efficiency {scores['efficiency_lateral']:.1f} %")
    image = out / "predicted.png"
    render_table(locs, image, client=client, pixel_nm=20.0, widefield=store_path)
    report(f"$ smlmscale render {_shown(locs)} -o {_shown(image)} --pixel-size 20 "
           f"--widefield {_shown(store_path)}")
    report(f"  rendered image {_shown(image)}")
    return scores, image


def run_demo(out_dir: str | os.PathLike, *, client, settings: DemoSettings = DemoSettings(),
             overwrite: bool = False, report: Callable[[str], None] = lambda line: None,
             command: str | None = None) -> dict:
    """Run the demo pipeline into ``out_dir`` and return its figures.

    Parameters
    ----------
    out_dir : str or os.PathLike
    client : distributed.Client
    settings : DemoSettings
    overwrite : bool
        Replace an earlier demo's folder.
    report : callable
        Receives one line per step.
    command : str, optional
        Recorded as provenance in the stores.

    Returns
    -------
    dict
        ``frames``, ``truth_rows``, ``store``, ``compression_ratio``, ``evaluation``
        (the ``evaluate --json`` dictionary) and the paths written.
    """
    from smlmscale.evaluate import EvaluateSettings, evaluate_tables
    from smlmscale.ingest import IngestSettings, ingest_tiffs
    from smlmscale.io.describe import describe_store
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.io.tables import TableMeta, convert_table, read_table, write_table
    from smlmscale.patches.deepstorm import DeepstormSettings
    from smlmscale.patches.run import make_patches
    from smlmscale.preprocess.run import preprocess_store
    from smlmscale.simulate.run import simulate_movie
    from smlmscale.simulate.settings import EmitterSettings, MovieSettings

    out = prepare_folder(out_dir, overwrite=overwrite)
    movie = MovieSettings(frames=settings.frames, size_px=settings.size_px, seed=settings.seed,
                          emitters=EmitterSettings(density_per_um2=settings.density_per_um2))
    sim = simulate_movie(out / "sim.zarr", settings=movie, client=client, tiff=True,
                         tiff_frames_per_file=settings.frames_per_tiff, command=command)
    report(f"$ smlmscale simulate -o {_shown(sim.path)} --frames {settings.frames} --size "
           f"{settings.size_px} --density {settings.density_per_um2:g} --seed {settings.seed} "
           f"--tiff --tiff-frames {settings.frames_per_tiff}")
    report(f"  {sim.shape[0]} frames of {sim.shape[1]}x{sim.shape[2]} px, "
           f"{sim.emitters_per_frame:.1f} emitters/frame on average -> {_shown(sim.path)}, "
           f"{Path(sim.truth_path).name}, and {len(sim.tiff_paths)} OME-TIFF files")

    store_path = out / "movie.zarr"
    tiff_folder = Path(sim.tiff_paths[0]).parent
    result = ingest_tiffs([tiff_folder], store_path, client=client, settings=IngestSettings(),
                          command=command)
    if not np.array_equal(open_image_store(store_path).array[:],
                          open_image_store(sim.path).array[:]):
        raise RuntimeError("demo: the ingested TIFF series differs from the simulation")
    summary = describe_store(store_path)
    report(f"$ smlmscale ingest {_shown(tiff_folder)} -o {_shown(store_path)}")
    report(f"  {result.n_files} TIFF files -> chunks {summary['chunks']}, compression "
           f"{summary['compression_ratio']}x; equals the simulated store")

    preprocessed = out / "movie_pre.zarr"
    pre = preprocess_store(store_path, preprocessed, steps=settings.steps, client=client,
                           command=command)
    frames = open_image_store(preprocessed).array
    report(f'$ smlmscale preprocess {_shown(store_path)} -o {_shown(preprocessed)} '
           f'--steps "{settings.steps}"')
    report(f"  {frames.shape[0]} frames, {frames.dtype}, in {pre.seconds:.1f} s; "
           f"99.9th percentile {float(np.percentile(frames[:50], 99.9)):.3f}, "
           f"median {float(np.median(frames[:50])):.3f} over the first 50 frames")

    patch_path = out / "train.zarr"
    patch_settings = DeepstormSettings(
        patch_size_px=settings.patch_size_px, upsampling=settings.upsampling, per_frame=1,
        min_emitters=1, target_sigma_px=settings.target_sigma_px, seed=settings.seed)
    patch_set = make_patches(store_path, patch_path, locs=sim.truth_path, kind="deepstorm",
                             settings=patch_settings, client=client, command=command)
    report(f"$ smlmscale patches {_shown(store_path)} --locs {_shown(sim.truth_path)} -o "
           f"{_shown(patch_path)} --kind deepstorm --patch-size {settings.patch_size_px} "
           f"--upsampling {settings.upsampling} --per-frame 1 --target-sigma "
           f"{settings.target_sigma_px:g}")
    report(f"  {patch_set.n_patches} patches ({patch_set.n_train} train, "
           f"{patch_set.n_validation} validation): inputs {list(patch_set.input_shape)}")
    trained = _train(patch_path, out / "model", settings, report, command)

    predicted_scores, render_path = _predict(store_path, trained.path, sim.truth_path, out,
                                             settings, client, report, command)
    truth, meta = read_table(sim.truth_path)
    truth_csv = out / "sim_truth.csv"
    convert_table(sim.truth_path, truth_csv)
    convert_table(sim.truth_path, out / "sim_truth.hdf5")
    report(f"$ smlmscale convert {_shown(sim.truth_path)} -o {_shown(truth_csv)}"
           "   # and -o sim_truth.hdf5")
    report(f"  {len(truth)} localizations as ThunderSTORM CSV and Picasso HDF5 (+ .yaml)")

    field_nm = (sim.shape[1] * sim.pixel_size_nm, sim.shape[2] * sim.pixel_size_nm)
    predicted = jitter_table(truth, jitter_nm=settings.jitter_nm,
                             drop_fraction=settings.drop_fraction,
                             spurious_fraction=settings.spurious_fraction, field_nm=field_nm,
                             seed=settings.seed + 1)
    predicted_csv = out / "jittered_locs.csv"
    write_table(predicted, predicted_csv, meta=TableMeta(pixel_size_nm=meta.pixel_size_nm))
    evaluation = evaluate_tables(read_table(predicted_csv)[0], truth,
                                 settings=EvaluateSettings(), truth_meta=meta)
    scores = evaluation.to_dict()
    report(f"$ smlmscale evaluate {_shown(predicted_csv)} --truth {_shown(sim.truth_path)}")
    report(f"  {predicted_csv.name} is the truth jittered by {settings.jitter_nm:g} nm, "
           f"{100 * settings.drop_fraction:g} % dropped, {100 * settings.spurious_fraction:g} % "
           f"spurious (a known reference for the metrics): Jaccard {scores['jaccard']:.3f}, "
           f"RMSE lateral {scores['rmse_lateral_nm']:.1f} nm, efficiency "
           f"{scores['efficiency_lateral']:.1f} %, RMSE/CRLB "
           + (f"{scores['rmse_over_crlb']:.2f}" if scores.get("rmse_over_crlb") else "n/a"))
    sections = None
    if settings.sections is not None:
        from smlmscale.demo_sections import run_section_demo

        sections = run_section_demo(out, client=client, settings=settings.sections,
                                    report=report, command=command, shown=_shown)
    return {"frames": sim.shape[0], "truth_rows": len(truth), "store": str(store_path),
            "sections": sections,
            "preprocessed": str(preprocessed), "patches": str(patch_path),
            "n_patches": patch_set.n_patches, "model": trained.path, "curve": trained.curve,
            "train_best": trained.best, "train_first": trained.first,
            "predicted_evaluation": predicted_scores,
            "render": str(render_path) if render_path else None,
            "compression_ratio": summary["compression_ratio"], "evaluation": scores,
            "predicted": str(predicted_csv), "truth": sim.truth_path}
