"""train_model: learning, the model folder, safe-mode reload, resume, repeatability, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.patches.patchset import create_patchset, open_patchset
from smlmscale.io import modeldir as md
from smlmscale.train.run import train_model
from smlmscale.train.settings import TrainSettings
from smlmscale.train.stream import patch_stream, plan_stream
from tests.train import numbered_patchset, simulated_patchset

keras = pytest.importorskip("keras")


class Killed(KeyboardInterrupt):
    """Stands for a job killed after an epoch's checkpoint."""


def _kill_after(epoch):
    def on_epoch(done, epochs, logs):
        if done == epoch:
            raise Killed

    return on_epoch


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    # Targets blurred to 2 upsampled px (50 nm): learnable to a low loss in a few epochs.
    return simulated_patchset(tmp_path_factory.mktemp("sim"), frames=200, target_sigma_px=2.0)


def _untrained_val_loss(path, settings):
    from smlmscale.models import build_model, get_loss

    ps = open_patchset(path)
    keras.utils.set_random_seed(settings.seed)
    model = build_model(settings.model, ps.inputs.shape[1:], ps.targets.shape[1:])
    model.compile(optimizer="adam", loss=get_loss(settings.loss_name))
    plan = plan_stream(ps, batch_size=settings.batch_size, budget_bytes=64 << 20)
    val = patch_stream(ps, "validation", plan, shuffle=False, target_scale=settings.scale)
    return model.evaluate(val, verbose=0)


def test_short_training_halves_validation_loss_and_writes_a_model_folder(simulated, tmp_path):
    settings = TrainSettings(epochs=4, batch_size=16, seed=1)
    seen = []
    result = train_model(simulated, tmp_path / "model", settings=settings, command="train x",
                         on_epoch=lambda e, n, logs: seen.append((e, n, sorted(logs))))
    before = _untrained_val_loss(simulated, settings)
    assert result.best <= 0.5 * before, (result.best, before)
    assert result.history["val_loss"].min() == pytest.approx(result.best)
    assert [s[:2] for s in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert {"loss", "val_loss", "learning_rate", "seconds"} <= set(seen[0][2])
    folder = tmp_path / "model"
    assert not (tmp_path / "model.partial").exists()
    for name in (md.MODEL_FILE, md.META_FILE, md.HISTORY_FILE, md.CURVE_FILE):
        assert (folder / name).is_file(), name
    assert (folder / md.CHECKPOINTS / "state.json").is_file()
    assert result.history["epoch"].tolist() == [1, 2, 3, 4]
    meta = json.loads((folder / md.META_FILE).read_text())
    ps = open_patchset(simulated)
    assert meta["kind"] == "model" and meta["model"] == "deepstorm"
    assert meta["input_shape"] == [32, 32, 1] and meta["target_shape"] == [32, 32, 1]
    assert meta["upsampling"] == 4 and meta["pixel_size_nm"] == ps.attrs["pixel_size_nm"]
    assert meta["normalization"] == ps.attrs["normalization"]
    assert meta["generator"] == "deepstorm" and meta["generator_params"]["patch_size_px"] == 8
    assert meta["target_scale"] == 100.0 and meta["loss"] == {"name": "mse"}
    assert meta["training"]["best_epoch"] == result.best_epoch
    assert meta["training"]["batch_size"] == 16 and meta["training"]["seed"] == 1
    assert meta["patch_set"]["patches"] == len(ps)
    assert meta["provenance"]["command"] == "train x"
    assert meta["parameters"] == result.model.count_params()
    # model.keras reloads in safe mode and predicts exactly as the trained model.
    x = ps.inputs[:24]
    reloaded = md.load_keras_model(folder)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0),
                                  result.model.predict(x, verbose=0))
    summary = md.describe_model(folder)
    assert summary["model"] == "deepstorm" and summary["epochs"] == 4


def test_resume_continues_epochs_optimizer_state_and_learning_rate(tmp_path):
    numbered_patchset(tmp_path / "ps.zarr", n=160, chunk=32)
    out, partial = tmp_path / "m", tmp_path / "m.partial"
    settings = TrainSettings(epochs=2, batch_size=16, seed=2, lr_patience=50, patience=50)
    with pytest.raises(Killed):
        train_model(tmp_path / "ps.zarr", out, settings=settings, on_epoch=_kill_after(2))
    assert partial.is_dir() and not out.exists()
    state = json.loads((partial / "checkpoints" / "state.json").read_text())
    assert state["epochs_done"] == 2
    checkpoint = partial / "checkpoints" / state["checkpoint"]
    # A reduced learning rate in the checkpoint must carry on (a fresh run has 1e-3).
    model = md.load_keras_model(checkpoint, compile=True)
    steps = int(model.optimizer.iterations.numpy())
    assert steps == 2 * 9
    model.optimizer.learning_rate.assign(1e-5)
    model.save(checkpoint)
    # A row written just before a kill, without its checkpoint, is dropped on resume.
    with open(partial / md.HISTORY_FILE, "a") as fh:
        fh.write("3,0.5,0.5,1.0,0.5\n")
    result = train_model(tmp_path / "ps.zarr", out, resume=True, given={"epochs": 4})
    assert result.initial_epoch == 2 and result.epochs_run == 4
    assert result.settings.seed == 2 and result.settings.epochs == 4
    assert result.history["epoch"].tolist() == [1, 2, 3, 4]
    assert (result.history["learning_rate"].iloc[2:] <= 1e-5 * 1.0001).all()
    assert int(result.model.optimizer.iterations.numpy()) == 4 * 9
    assert not partial.exists() and (out / md.MODEL_FILE).is_file()


def _killed_and_resumed(tmp_path, schedule: str, *, kill_after: int):
    """A 4-epoch run under ``schedule`` (lr 1e-3 to 1e-5), killed after ``kill_after``
    epochs and resumed to the end."""
    numbered_patchset(tmp_path / "ps.zarr", n=160, chunk=32)
    out = tmp_path / "m"
    settings = TrainSettings(epochs=4, batch_size=16, seed=2, patience=50, lr=1e-3,
                             min_lr=1e-5, lr_schedule=schedule)
    with pytest.raises(Killed):
        train_model(tmp_path / "ps.zarr", out, settings=settings,
                    on_epoch=_kill_after(kill_after))
    result = train_model(tmp_path / "ps.zarr", out, resume=True)
    assert result.settings.lr_schedule == schedule and result.epochs_run == 4
    return result


def test_cosine_schedule_follows_the_half_cosine_across_a_resume(tmp_path):
    from smlmscale.train.callbacks import cosine_lr

    result = _killed_and_resumed(tmp_path, "cosine", kill_after=2)
    expected = [cosine_lr(e, 4, 1e-3, 1e-5) for e in range(4)]
    np.testing.assert_allclose(result.history["learning_rate"], expected, rtol=1e-5)
    assert expected[0] == 1e-3 and expected[-1] < 2e-4


def test_cosine_lr_runs_from_lr_to_min_lr():
    from smlmscale.train.callbacks import cosine_lr

    values = [cosine_lr(e, 10, 1e-3, 1e-6) for e in range(11)]
    assert values[0] == pytest.approx(1e-3) and values[10] == pytest.approx(1e-6)
    assert all(a > b for a, b in zip(values, values[1:]))


def test_anneal_schedule_holds_then_decays_batch_by_batch_across_a_resume(tmp_path):
    from smlmscale.train.callbacks import anneal_lr

    result = _killed_and_resumed(tmp_path, "anneal", kill_after=3)
    steps = int(result.model.optimizer.iterations.numpy()) // 4
    rates = result.history["learning_rate"].to_numpy()   # the rate of each epoch's last batch
    np.testing.assert_allclose(rates[:3], 1e-3, rtol=1e-6)
    expected = anneal_lr(3 + (steps - 1) / steps, 4, 1e-3, 1e-5)
    np.testing.assert_allclose(rates[3], expected, rtol=1e-5)
    assert steps > 1 and rates[3] < 2e-3 / steps     # decayed within the epoch


def test_anneal_lr_holds_three_quarters_then_falls_linearly_to_min_lr():
    from smlmscale.train.callbacks import anneal_lr

    assert anneal_lr(0, 20, 2e-3, 1e-6) == anneal_lr(15, 20, 2e-3, 1e-6) == 2e-3
    assert anneal_lr(17.5, 20, 2e-3, 1e-6) == pytest.approx(0.5 * (2e-3 + 1e-6))
    assert anneal_lr(20, 20, 2e-3, 1e-6) == pytest.approx(1e-6)
    values = [anneal_lr(15 + k / 10, 20, 2e-3, 1e-6) for k in range(51)]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_resume_refuses_changed_settings_corrupt_checkpoints_and_nothing_to_resume(tmp_path):
    numbered_patchset(tmp_path / "ps.zarr", n=64, chunk=32)
    out = tmp_path / "m"
    with pytest.raises(InputError, match="nothing to resume"):
        train_model(tmp_path / "ps.zarr", out, resume=True)
    with pytest.raises(Killed):
        train_model(tmp_path / "ps.zarr", out, given={"epochs": 3, "batch_size": 8},
                    on_epoch=_kill_after(1))
    with pytest.raises(InputError, match="--batch-size 16 differs"):
        train_model(tmp_path / "ps.zarr", out, resume=True, given={"batch_size": 16})
    with pytest.raises(InputError, match="interrupted run left this"):
        train_model(tmp_path / "ps.zarr", out, given={"epochs": 3})
    checkpoint = out.with_name("m.partial") / "checkpoints" / "epoch_0001.keras"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(InputError, match="cannot load") as info:
        train_model(tmp_path / "ps.zarr", out, resume=True)
    assert str(checkpoint) in str(info.value)
    assert checkpoint.stat().st_size == 1000, "nothing is removed"
    other = numbered_patchset(tmp_path / "other.zarr", n=96, chunk=32)
    with pytest.raises(InputError, match="another patch set"):
        train_model(other.path, out, resume=True)


def test_resume_after_early_stop_only_finishes_and_finished_model_is_not_resumed(tmp_path):
    numbered_patchset(tmp_path / "ps.zarr", n=64, chunk=32)
    out, partial = tmp_path / "m", tmp_path / "m.partial"
    with pytest.raises(Killed):
        train_model(tmp_path / "ps.zarr", out, given={"epochs": 5}, on_epoch=_kill_after(2))
    state_file = partial / "checkpoints" / "state.json"
    state = json.loads(state_file.read_text())
    state["stopped_early"] = True
    state_file.write_text(json.dumps(state))
    result = train_model(tmp_path / "ps.zarr", out, resume=True)
    assert result.epochs_run == 2 and result.stopped_early
    with pytest.raises(InputError, match="finished training"):
        train_model(tmp_path / "ps.zarr", out, resume=True)


def test_same_seed_repeats_the_run_exactly(tmp_path):
    numbered_patchset(tmp_path / "ps.zarr", n=96, chunk=32)
    runs = [train_model(tmp_path / "ps.zarr", tmp_path / f"m{i}",
                        settings=TrainSettings(epochs=2, batch_size=16, seed=7))
            for i in range(2)]
    pd.testing.assert_frame_equal(runs[0].history.drop(columns="seconds"),
                                  runs[1].history.drop(columns="seconds"))


def test_no_validation_split_monitors_the_training_loss(tmp_path):
    numbered_patchset(tmp_path / "ps.zarr", n=48, chunk=16, validation_every=0)
    result = train_model(tmp_path / "ps.zarr", tmp_path / "m", given={"epochs": 1})
    assert result.monitor == "loss" and "validation split" in result.notes[0]
    assert "val_loss" not in result.history


def test_bad_patch_sets_are_refused_before_anything_is_written(tmp_path):
    fusion = numbered_patchset(tmp_path / "f.zarr", n=32, shape=(16, 64, 1),
                               generator="fusion")
    with pytest.raises(InputError, match="deepstorm model trains on deepstorm or summed"):
        train_model(fusion.path, tmp_path / "m")
    with pytest.raises(InputError, match="train --model unet"):
        train_model(fusion.path, tmp_path / "m", given={"model": "counts"})
    create_patchset(tmp_path / "empty.zarr", n=0, input_shape=(8, 8, 1),
                    target_shape=(8, 8, 1), attrs={"generator": "deepstorm"})
    with pytest.raises(InputError, match="empty"):
        train_model(tmp_path / "empty.zarr", tmp_path / "m")
    odd = numbered_patchset(tmp_path / "odd.zarr", n=32, shape=(12, 12, 1))
    with pytest.raises(InputError, match="divisible by 8"):
        train_model(odd.path, tmp_path / "m")
    with pytest.raises(InputError, match="not a patch set|not a Zarr"):
        train_model(tmp_path, tmp_path / "m")
    (tmp_path / "exists").mkdir()
    ok = numbered_patchset(tmp_path / "ok.zarr", n=32)
    with pytest.raises(InputError, match="output exists"):
        train_model(ok.path, tmp_path / "exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "empty.zarr", "exists", "f.zarr", "odd.zarr", "ok.zarr"]
