"""Accuracy benchmark (issue 15): locnet against deepstorm at 0.5 / 2 / 6 emitters per um^2.

Both models are trained by their documented commands, as subprocesses of the real
``smlmscale`` entry point, on this machine's CPU:

- *locnet*: ``smlmscale train --simulate locnet_sim.yaml -o model_loc --model locnet
  --steps-per-epoch S --epochs E --lr-schedule anneal`` (:data:`LOCNET_SIM`: ranges wider
  than the test condition, so the model is tuned to the physics, not to the test
  movies; a quarter of the samples blink for one frame, so the model is calibrated
  whether or not the neighbouring frames hold the same emitter), timed: the target is at
  most 30 minutes. ``SMLMSCALE_BENCH_LOCNET_MODEL=DIR`` scores a model folder trained by
  that command beforehand instead (its simulation parameters, epochs, steps and schedule
  must be this command's; its training time is read from the folder:
  ``provenance.created - training.started``).
- *deepstorm*: ``smlmscale simulate`` of a training movie of the condition at 2
  emitters/um^2, ``smlmscale patches --kind deepstorm --patch-size 26 --upsampling 8
  --per-frame 4 --min-emitters 2`` and ``smlmscale train --model deepstorm --batch-size 16
  --lr 1e-3``, as the README documents them (fewer frames and epochs, :data:`DS_FRAMES`
  and :data:`DS_EPOCHS`: its 208 x 208 px upsampled patches cost about 2.4 s per step of
  16 on 2 cores, so 2,400 patches x 3 epochs already take ~18 minutes).

Test movies: 64 x 64 px of 100 nm, sigma 130 nm, 1,500-4,000 photons (uniform, QE 1, so
the truth's photons are the detected ones), background 20 photons/px, read noise 2 e-, at
each density (:data:`DENSITIES`, seeds 7, 8, 9), emitters on for geometric runs of mean
4 frames (the simulator's default). The same condition is scored again with one-frame
blinking (every emitter on for a single frame, seeds 401, 403, 404): there locnet's
temporal context holds no photons of the same emitter, so these movies show what the
network does from one frame alone (a simulator whose dyes blink fast, or draws every
frame anew). Both models predict every movie at their
default thresholds on a LocalCluster of 2 workers; ``evaluate`` scores them (250 nm).
Reported per density and model: Jaccard, precision, recall, lateral RMSE, RMSE over the
least-squares bound (Mortensen Eq. 6, what ``evaluate`` reports), over the
information limit (Eq. 5) and over the frame limit (each emitter's multi-emitter bound
among the emitters of its frame, ``evaluate --frame-limit``), and locnet's z-scores
(error / predicted sigma).

Targets (issue 15): locnet Jaccard >= 0.98 / 0.95 / 0.85 and >= deepstorm's at each
density; lateral RMSE <= 1.3x the CRLB at 0.5 per um^2; z-score std in 0.8-1.25.
``test_targets`` checks them on the 4-frame movies, ``test_targets_one_frame`` on the
one-frame movies (its RMSE against the frame limit: see there).

Run with ``.venv/bin/python -m pytest benchmarks/test_locnet_accuracy.py -o addopts=""
-p no:cacheprovider -s`` (about 55 minutes on 2 cores); ``SMLMSCALE_BENCH_SMALL=1`` trains
for a few minutes only (the targets are then not expected to hold: it checks the plumbing).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.commands import smlmscale_seconds as _smlmscale

pytest.importorskip("keras")
pytestmark = pytest.mark.timeout(3 * 3600)

SMALL = os.environ.get("SMLMSCALE_BENCH_SMALL") == "1"
_env = os.environ.get
LOCNET_STEPS = int(_env("SMLMSCALE_BENCH_LOCNET_STEPS", 100 if SMALL else 500))
LOCNET_EPOCHS = int(_env("SMLMSCALE_BENCH_LOCNET_EPOCHS", 2 if SMALL else 24))
#: locnet's ``--lr-schedule`` (a pretrained folder must have been trained with it too).
LOCNET_SCHEDULE = "anneal"
DS_FRAMES = int(_env("SMLMSCALE_BENCH_DS_FRAMES", 100 if SMALL else 600))
DS_EPOCHS = int(_env("SMLMSCALE_BENCH_DS_EPOCHS", 1 if SMALL else 3))
#: Density (emitters/um^2) -> frames of its 64 px test movie (~4,000-7,000 emitters each).
DENSITIES = {0.5: 200, 2.0: 60, 6.0: 30} if not SMALL else {0.5: 40, 2.0: 12, 6.0: 6}
TRAINING_BUDGET_S = 30 * 60
LOCNET_SIM = """\
# locnet's training data: ranges around the test condition, not the condition itself
density_per_um2: [0.3, 8.0]
photons: [800.0, 6000.0]
background_photons_per_px: [10.0, 35.0]
sigma_nm: [110.0, 150.0]
validation_samples: 256
camera:
  read_noise_e: 2.0
single_frame_share: 0.25
"""
TARGET_JACCARD = {0.5: 0.98, 2.0: 0.95, 6.0: 0.85}
#: Blinking of the test movies: result key -> (mean on-run in frames, seeds per density).
BLINKING = {"density": (4.0, (7, 8, 9)), "one_frame": (1.0, (401, 403, 404))}
RESULTS: dict[str, dict] = {}


def condition_movie(path, *, density: float, frames: int, seed: int, client=None, psf=None,
                    on_frames_mean: float = 4.0):
    """A 64 px movie of the issue's condition at ``density`` emitters/um^2 (QE 1), its
    emitters on for runs of mean ``on_frames_mean`` frames; ``psf`` (a
    :class:`~smlmscale.simulate.settings.PsfSettings`) replaces its Gaussian PSF."""
    from smlmscale.simulate.run import simulate_movie
    from smlmscale.simulate.settings import (BackgroundSettings, CameraSettings,
                                             EmitterSettings, MovieSettings, PhotonSettings,
                                             PsfSettings)

    return simulate_movie(path, client=client, settings=MovieSettings(
        frames=frames, size_px=64, seed=seed, pixel_size_nm=100.0,
        emitters=EmitterSettings(density_per_um2=density, on_frames_mean=on_frames_mean),
        photons=PhotonSettings(distribution="uniform", uniform_range=(1500.0, 4000.0)),
        psf=psf or PsfSettings(sigma_nm_range=(130.0, 130.0)),
        background=BackgroundSettings(photons_per_px=20.0),
        camera=CameraSettings(qe=1.0, read_noise_e=2.0)))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("locnet_accuracy")


def _pretrained(folder: Path) -> tuple[Path, float]:
    """A locnet folder trained beforehand with :data:`LOCNET_SIM`, and its training time."""
    import yaml
    from datetime import datetime

    meta = json.loads((folder / "smlmscale.json").read_text())
    wanted = yaml.safe_load(LOCNET_SIM)
    got = meta["simulation"]
    assert all(got[k] == v for k, v in wanted.items() if k != "camera"), (got, wanted)
    assert got["camera"]["read_noise_e"] == wanted["camera"]["read_noise_e"]
    training = {k: meta["training"][k] for k in ("epochs", "steps_per_epoch", "lr_schedule")}
    assert training == {"epochs": LOCNET_EPOCHS, "steps_per_epoch": LOCNET_STEPS,
                        "lr_schedule": LOCNET_SCHEDULE}, training
    started = datetime.fromisoformat(meta["training"]["started"])
    created = datetime.fromisoformat(meta["provenance"]["created"])
    return folder, (created - started).total_seconds()


def _train_locnet(folder: Path) -> tuple[Path, float]:
    if _env("SMLMSCALE_BENCH_LOCNET_MODEL"):
        return _pretrained(Path(_env("SMLMSCALE_BENCH_LOCNET_MODEL")))
    (folder / "locnet_sim.yaml").write_text(LOCNET_SIM)
    return folder / "model_loc", _smlmscale(
        "train", "--simulate", str(folder / "locnet_sim.yaml"), "-o", str(folder / "model_loc"),
        "--model", "locnet", "--steps-per-epoch", str(LOCNET_STEPS), "--epochs",
        str(LOCNET_EPOCHS), "--patience", str(LOCNET_EPOCHS), "--lr-schedule",
        LOCNET_SCHEDULE, "--seed", "0")


@pytest.fixture(scope="module")
def models(folder):
    """Both models, trained one after the other (each alone on the machine), timed."""
    loc_model, loc_s = _train_locnet(folder)
    ds_s = _smlmscale("simulate", "-o", str(folder / "ds_train.zarr"), "--frames",
                      str(DS_FRAMES), "--size", "64", "--density", "2", "--photons-uniform",
                      "1500", "4000", "--sigma-range", "130", "130", "--background", "20",
                      "--read-noise", "2", "--qe", "1", "--seed", "1")
    ds_s += _smlmscale("patches", str(folder / "ds_train.zarr"), "--locs",
                       str(folder / "ds_train_truth.parquet"), "-o", str(folder / "ds.zarr"),
                       "--kind", "deepstorm", "--patch-size", "26", "--upsampling", "8",
                       "--per-frame", "4", "--min-emitters", "2", "--seed", "0")
    ds_s += _smlmscale("train", str(folder / "ds.zarr"), "-o", str(folder / "model_ds"),
                       "--model", "deepstorm", "--epochs", str(DS_EPOCHS), "--batch-size",
                       "16", "--lr", "1e-3", "--patience", str(DS_EPOCHS))
    RESULTS["training"] = {"locnet_s": loc_s, "locnet_model": str(loc_model),
                           "deepstorm_s": ds_s, "deepstorm_frames": DS_FRAMES,
                           "deepstorm_epochs": DS_EPOCHS}
    return {"locnet": loc_model, "deepstorm": folder / "model_ds"}


def mle_ratio(result, truth) -> float | None:
    """Lateral RMSE over the information limit (Mortensen Eq. 5) of the matched truths."""
    from smlmscale.evaluate.crlb import mle_localization_variance_nm2

    pairs = result.pairs
    if pairs is None or not len(pairs.truth_index):
        return None
    rows = truth.iloc[pairs.truth_index]
    bound = mle_localization_variance_nm2(
        rows["photons"].to_numpy(), psf_sigma_nm=rows["sigma_nm"].to_numpy(),
        background_photons=rows["background"].to_numpy(), pixel_size_nm=100.0)
    per_axis = (np.sum(pairs.dx_nm ** 2) + np.sum(pairs.dy_nm ** 2)) / 2
    return float(np.sqrt(per_axis / np.sum(bound)))


def _score(kind, model, movie, folder, client) -> dict:
    from smlmscale.evaluate.run import EvaluateSettings, evaluate_tables
    from smlmscale.io.tables import read_table
    from smlmscale.localize.uncertainty import zscore_spread
    from smlmscale.predict.run import predict_movie

    out = folder / f"{kind}_{Path(movie.path).stem}.parquet"
    started = time.perf_counter()
    predict_movie(movie.path, model, out, client=client)
    seconds = time.perf_counter() - started
    pred, _ = read_table(out)
    truth, truth_meta = read_table(movie.truth_path)
    result = evaluate_tables(pred, truth, truth_meta=truth_meta,
                             settings=EvaluateSettings(keep_pairs=True, frame_limit=True))
    row = {k: result.to_dict()[k] for k in ("jaccard", "precision", "recall",
                                            "rmse_lateral_nm", "rmse_over_crlb",
                                            "rmse_over_frame_limit", "tp", "n_truth",
                                            "n_pred")}
    row["rmse_over_crlb_mle"] = mle_ratio(result, truth)
    row["predict_s"] = seconds
    if kind == "locnet":
        z = zscore_spread(result.pairs, pred)
        row.update({k: z.get(k) for k in ("zscore_std_x", "zscore_std_y", "zscore_mean_x",
                                          "zscore_mean_y")})
    return row


@pytest.mark.parametrize("blinking", list(BLINKING))
@pytest.mark.parametrize("density", list(DENSITIES))
def test_accuracy(density, blinking, folder, models, cluster_client):
    on_frames, seeds = BLINKING[blinking]
    key = f"{blinking}_{density:g}"
    movie = condition_movie(folder / f"test_{key}.zarr", density=density,
                            frames=DENSITIES[density], seed=seeds[list(DENSITIES).index(density)],
                            client=cluster_client, on_frames_mean=on_frames)
    RESULTS[key] = {kind: _score(kind, model, movie, folder, cluster_client)
                    for kind, model in models.items()}
    print(json.dumps({key: RESULTS[key]}, indent=1))


def _missed(blinking: str, bound: str = "rmse_over_crlb") -> list[str]:
    """The targets the movies of ``blinking`` miss (the training budget included), the
    RMSE's against ``bound`` (a metric of ``evaluate``)."""
    print(json.dumps(RESULTS, indent=1))
    if SMALL:
        pytest.skip("SMLMSCALE_BENCH_SMALL: a few minutes of training, no targets")
    missed = []
    if RESULTS["training"]["locnet_s"] > TRAINING_BUDGET_S:
        missed.append(f"locnet trained {RESULTS['training']['locnet_s']:.0f} s")
    for density, target in TARGET_JACCARD.items():
        got = RESULTS[f"{blinking}_{density:g}"]
        loc, deep = got["locnet"]["jaccard"], got["deepstorm"]["jaccard"]
        if loc < target or loc < deep:
            missed.append(f"Jaccard at {density:g}: {loc:.3f} (target {target}, "
                          f"deepstorm {deep:.3f})")
        for axis in "xy":
            std = got["locnet"][f"zscore_std_{axis}"]
            if std is None or not 0.8 <= std <= 1.25:
                missed.append(f"z-score std {axis} at {density:g}: {std}")
    ratio = RESULTS[f"{blinking}_0.5"]["locnet"][bound]
    if ratio is None or ratio > 1.3:
        missed.append(f"{bound} at 0.5: {ratio}")
    return missed


def test_targets():
    """The issue's targets on the 4-frame movies (all reported before any assertion)."""
    missed = _missed("density")
    assert not missed, "; ".join(missed)


def test_targets_one_frame():
    """The same targets on the one-frame movies, the RMSE's against the frame limit.

    With one-frame blinking no neighbouring frame holds the same emitter, so the RMSE
    is bounded by what one frame allows; at 0.5 per um^2 that frame limit (the
    multi-emitter bound among each frame's emitters, ``evaluate --frame-limit``) is
    1.41x the CRLB on these movies (close pairs), so 1.3x the CRLB would ask for 0.93x
    the limit of a frame-by-frame localizer. The RMSE target is therefore 1.3x the frame
    limit here.
    """
    missed = _missed("one_frame", bound="rmse_over_frame_limit")
    assert not missed, "one-frame blinking: " + "; ".join(missed)
