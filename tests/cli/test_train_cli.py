"""``smlmscale train`` through the typer app and the console script, bad input included.

Training runs in-process (no Dask cluster). The patch sets are tiny numbered ones
(:func:`tests.train.numbered_patchset`: 64 patches of 8x8, 16 in validation), trained
for 1-3 epochs in batches of 16, so the whole file takes seconds per run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from tests.cli.helpers import assert_fails_with_one_line
from tests.tiffdata import write_tiff
from tests.train import numbered_patchset

runner = CliRunner()
pytestmark = pytest.mark.timeout(180)

N, CHUNK, EVERY = 64, 16, 4
FAST = ["--batch-size", "16", "--no-augment"]


def _train(*args):
    return runner.invoke(app, ["train", *map(str, args)])


def _snapshot(path: Path) -> dict[str, str]:
    """Every file under ``path`` (or ``path`` itself) -> hash of its bytes."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in files}


def _epochs(folder: Path) -> list[int]:
    return pd.read_csv(folder / "history.csv")["epoch"].tolist()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("train_cli")


@pytest.fixture(scope="module")
def patchset(folder) -> Path:
    path = folder / "ps.zarr"
    numbered_patchset(path, n=N, chunk=CHUNK, validation_every=EVERY)
    return path


@pytest.fixture(scope="module")
def finished(folder, patchset):
    """A model trained by the installed ``smlmscale`` script: (folder, completed process)."""
    exe = os.path.join(os.path.dirname(sys.executable), "smlmscale")
    out = folder / "model"
    proc = subprocess.run([exe, "train", str(patchset), "-o", str(out), "--epochs", "2",
                           *FAST], capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.fixture(scope="module")
def interrupted(folder, patchset) -> Path:
    """``OUT.partial`` of a run (2 epochs planned) interrupted after its first epoch."""
    from smlmscale.train.run import train_model

    def stop(epoch, epochs, logs):
        if epoch == 1:
            raise KeyboardInterrupt

    out = folder / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train_model(patchset, out, given={"epochs": 2, "batch_size": 16, "augment": False},
                    on_epoch=stop)
    partial = folder / "stopped.partial"
    assert not out.exists() and (partial / "checkpoints" / "state.json").is_file()
    return partial


def _copy_interrupted(interrupted: Path, tmp_path: Path) -> Path:
    """A private copy of the interrupted run; returns the output path to resume."""
    shutil.copytree(interrupted, tmp_path / "m.partial")
    return tmp_path / "m"


def test_console_script_trains_a_model_in_process(finished, patchset):
    out, proc = finished
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoints", "history.csv", "logs", "model.keras", "smlmscale.json",
        "training_curve.png"]
    assert not Path(f"{out}.partial").exists()
    assert (out / "checkpoints" / "state.json").is_file()
    assert _epochs(out) == [1, 2]
    meta = json.loads((out / "smlmscale.json").read_text())
    assert meta["model"] == "deepstorm" and meta["training"]["batch_size"] == 16
    assert meta["training"]["augment"] is False and meta["training"]["epochs_run"] == 2
    assert meta["provenance"]["command"].startswith("smlmscale train ")
    lines = proc.stderr.splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all(", val_loss " in line and ", lr 0.001, " in line and line.endswith(" s")
               for line in epochs)
    assert any(line.startswith(f"wrote {out}: deepstorm model, 2 epochs, ") for line in lines)
    assert any(line.startswith("best epoch ") and "val_loss" in line and "(first epoch " in line
               for line in lines)
    assert f"training curve: {out / 'training_curve.png'}" in lines
    assert not any(line.startswith("dask:") for line in lines)  # no cluster started


def test_console_script_refuses_bad_input_with_one_line(tmp_path):
    """Cheap checks come before TensorFlow is imported, so nothing else is printed."""
    exe = os.path.join(os.path.dirname(sys.executable), "smlmscale")
    plain = tmp_path / "notes.txt"
    plain.write_text("not a patch set")
    bad = subprocess.run([exe, "train", str(plain), "-o", str(tmp_path / "m")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "notes.txt" in lines[0], \
        bad.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.partial").exists()


def test_info_describes_the_model_folder(finished):
    out, _ = finished
    text = runner.invoke(app, ["info", str(out)])
    assert text.exit_code == 0, text.stderr
    assert "kind: model" in text.stdout and "model: deepstorm" in text.stdout
    assert "input shape: 8 x 8 x 1" in text.stdout or "input shape: 8, 8, 1" in text.stdout
    as_json = runner.invoke(app, ["info", str(out), "--json"])
    assert as_json.exit_code == 0, as_json.stderr
    info = json.loads(as_json.stdout)
    assert info["kind"] == "model" and info["model"] == "deepstorm"
    assert info["epochs"] == 2 and info["best_epoch"] in (1, 2)
    assert info["input_shape"] == [8, 8, 1] and info["stored_bytes"] > 0
    assert info["patch_set"].endswith("ps.zarr")


def test_resume_finishes_an_interrupted_run(interrupted, patchset, tmp_path):
    out = _copy_interrupted(interrupted, tmp_path)
    result = _train(patchset, "-o", out, "--resume", "--epochs", 3)
    assert result.exit_code == 0, result.stderr
    assert _epochs(out) == [1, 2, 3] and not (tmp_path / "m.partial").exists()
    lines = result.stderr.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("epoch ")] == [
        "epoch 2/3", "epoch 3/3"]
    assert any(line.startswith(f"wrote {out}: deepstorm model, 3 epochs (resumed at epoch 1)")
               for line in lines), result.stderr
    meta = json.loads((out / "smlmscale.json").read_text())
    assert meta["training"]["epochs"] == 3 and meta["training"]["epochs_run"] == 3
    assert meta["training"]["batch_size"] == 16 and meta["training"]["augment"] is False


def test_quiet_silences_the_epoch_lines(tmp_path, patchset):
    result = runner.invoke(app, ["--quiet", "train", str(patchset), "-o", str(tmp_path / "q"),
                                 "--epochs", "1", *FAST])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == "" and (tmp_path / "q" / "model.keras").is_file()


def _bad_inputs(tmp_path: Path, patchset: Path) -> dict[str, tuple[Path, list, list]]:
    """name -> (input, extra options, fragments of the error line)."""
    plain = tmp_path / "plain.txt"
    plain.write_text("hello")
    tiff = write_tiff(tmp_path / "movie.tif", np.zeros((2, 8, 8), np.uint16))
    (tmp_path / "folder").mkdir()
    fusion = tmp_path / "fusion.zarr"
    numbered_patchset(fusion, n=32, chunk=CHUNK, generator="fusion")
    empty = tmp_path / "empty.zarr"
    numbered_patchset(empty, n=0, chunk=CHUNK)
    frames = tmp_path / "frames.zarr"
    numbered_patchset(frames, n=32, shape=(8, 8, 3), target_shape=(8, 8, 5), chunk=CHUNK,
                      generator="frames")
    return {
        "plain file": (plain, [], ["plain.txt"]),
        "tiff": (tiff, [], ["movie.tif"]),
        "plain folder": (tmp_path / "folder", [], ["folder"]),
        "fusion for deepstorm": (fusion, [], ["fusion", "--model unet"]),
        "deepstorm for counts": (patchset, ["--model", "counts"], ["counts", "deepstorm"]),
        "frames for deepstorm": (frames, [], ["frames", "--model locnet"]),
        "frames for unet": (frames, ["--model", "unet"], ["frames", "unet"]),
        "deepstorm for locnet": (patchset, ["--model", "locnet"], ["locnet", "deepstorm"]),
        "empty": (empty, [], ["empty"]),
        "negative lr": (patchset, ["--lr", "-1"], ["--lr", "positive"]),
        "budget lots": (patchset, ["--memory-budget", "lots"], ["--memory-budget", "lots"]),
        "budget too small": (patchset, ["--memory-budget", "10kB"], ["too small",
                                                                    "--memory-budget"]),
        "nothing to resume": (patchset, ["--resume"], ["nothing to resume"]),
        "resume and overwrite": (patchset, ["--resume", "--overwrite"],
                                 ["exclude each other"]),
        "unknown model": (patchset, ["--model", "resnet"], ["resnet"]),
        "unknown loss": (patchset, ["--loss", "l7"], ["l7"]),
    }


def test_bad_inputs_fail_with_one_line_and_change_nothing(tmp_path, patchset):
    cases = _bad_inputs(tmp_path, patchset)
    before = {name: _snapshot(path) for name, (path, _, _) in cases.items()}
    for name, (path, extra, fragments) in cases.items():
        out = tmp_path / f"out_{name.replace(' ', '_')}"
        result = _train(path, "-o", out, "--epochs", 1, *FAST, *extra)
        assert_fails_with_one_line(result, *fragments)
        assert not out.exists() and not Path(f"{out}.partial").exists(), name
        assert _snapshot(path) == before[name], name


def test_mixed_precision_needs_a_gpu(tmp_path, patchset):
    from smlmscale.train.devices import visible_gpus

    if visible_gpus():
        pytest.skip("a GPU is visible")
    out = tmp_path / "mp"
    result = _train(patchset, "-o", out, "--epochs", 1, *FAST, "--mixed-precision")
    assert_fails_with_one_line(result, "--mixed-precision", "GPU")
    assert not out.exists() and not (tmp_path / "mp.partial").exists()


def test_mixed_precision_and_bfloat16_exclude_each_other(tmp_path, patchset):
    out = tmp_path / "mp"
    result = _train(patchset, "-o", out, "--epochs", 1, *FAST, "--mixed-precision",
                    "--precision", "bfloat16")
    assert_fails_with_one_line(result, "--mixed-precision", "bfloat16")
    assert not out.exists() and not (tmp_path / "mp.partial").exists()
    result = _train(patchset, "-o", out, "--epochs", 1, *FAST, "--precision", "half")
    assert_fails_with_one_line(result, "--precision", "half")


def test_existing_output_is_refused_untouched(finished, patchset):
    out, _ = finished
    before = _snapshot(out)
    assert_fails_with_one_line(_train(patchset, "-o", out, "--epochs", 1, *FAST),
                               "output exists", "--overwrite")
    assert_fails_with_one_line(_train(patchset, "-o", out, "--resume"),
                               "nothing to resume", "finished")
    assert _snapshot(out) == before and not Path(f"{out}.partial").exists()


def test_resume_refuses_a_changed_setting(interrupted, patchset, tmp_path):
    out = _copy_interrupted(interrupted, tmp_path)
    before = _snapshot(tmp_path / "m.partial")
    assert_fails_with_one_line(_train(patchset, "-o", out, "--resume", "--batch-size", 32),
                               "--batch-size 32", "16", "--overwrite")
    assert _snapshot(tmp_path / "m.partial") == before and not out.exists()


def test_resume_refuses_a_corrupt_checkpoint(interrupted, patchset, tmp_path):
    out = _copy_interrupted(interrupted, tmp_path)
    folder = tmp_path / "m.partial" / "checkpoints"
    name = json.loads((folder / "state.json").read_text())["checkpoint"]
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: len(data) // 3])
    before = _snapshot(tmp_path / "m.partial")
    assert_fails_with_one_line(_train(patchset, "-o", out, "--resume", "--epochs", 2),
                               name, "corrupt")
    assert _snapshot(tmp_path / "m.partial") == before and not out.exists()


def test_summary_names_a_resumed_early_stopped_run():
    from types import SimpleNamespace

    from smlmscale.cli.train import summary_lines
    from smlmscale.train.settings import TrainSettings

    result = SimpleNamespace(
        path="/data/m", settings=TrainSettings(model="unet", epochs=50), epochs_run=14,
        initial_epoch=9, stopped_early=True, seconds=12.34, device="1 GPU, mixed_float16",
        best_epoch=4, monitor="val_loss", best=0.0123, first=0.5, curve="/data/m/c.png",
        notes=["a note"])
    assert summary_lines(result) == [
        "wrote /data/m: unet model, 14 epochs (resumed at epoch 9; stopped early, 50 planned), "
        "trained 12.3 s on 1 GPU, mixed_float16",
        "best epoch 4: val_loss 0.0123 (first epoch 0.5)",
        "training curve: /data/m/c.png",
        "note: a note",
    ]


# --- train --simulate (locnet on data simulated on the fly) ---------------------------

SIM_YAML = "patch_size_px: 16\ndensity_per_um2: [1.0, 3.0]\nvalidation_samples: 4\nseed: 1\n"
SIM_FAST = ["--model", "locnet", "--batch-size", "4", "--steps-per-epoch", "2"]


@pytest.mark.parametrize("text, fragment", [
    ("patch_size_px: 16\nbogus_key: 1\n", "bogus_key"),
    ("photons: [5000, 1000]\n", "photons"),
    ("[1, 2]\n", "mapping"),
])
def test_simulate_refuses_a_bad_yaml_with_one_line(tmp_path, text, fragment):
    params = tmp_path / "sim.yaml"
    params.write_text(text)
    result = _train("--simulate", params, "-o", tmp_path / "m", *SIM_FAST)
    assert_fails_with_one_line(result, fragment)
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.partial").exists()


def test_simulate_with_patches_is_refused(tmp_path, patchset):
    params = tmp_path / "sim.yaml"
    params.write_text(SIM_YAML)
    assert_fails_with_one_line(_train(patchset, "--simulate", params, "-o", tmp_path / "m"),
                               "not both")


def test_console_script_refuses_a_bad_simulate_yaml(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "smlmscale")
    params = tmp_path / "sim.yaml"
    params.write_text("densty_per_um2: [1, 2]\n")
    bad = subprocess.run([exe, "train", "--simulate", str(params), "-o", str(tmp_path / "m"),
                          "--model", "locnet"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "densty_per_um2" in lines[0], bad.stderr


def test_simulate_trains_reloads_and_resumes(tmp_path):
    from smlmscale.io import modeldir as md
    from smlmscale.train.run import train_model

    params = tmp_path / "sim.yaml"
    params.write_text(SIM_YAML)
    result = _train("--simulate", params, "-o", tmp_path / "m", *SIM_FAST, "--epochs", "2")
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "m" / md.META_FILE).read_text())
    assert meta["normalization"]["offset_adu"] == 100.0 and meta["simulation"]["seed"] == 1
    assert meta["training"]["steps_per_epoch"] == 2 and meta["training"]["epochs_run"] == 2
    model = md.load_keras_model(tmp_path / "m")
    assert model.predict(np.zeros((1, 16, 16, 3), np.float32), verbose=0).shape == (1, 16, 16, 8)

    def stop(epoch, epochs, logs):
        if epoch == 1:
            raise KeyboardInterrupt

    given = {"model": "locnet", "epochs": 2, "batch_size": 4, "steps_per_epoch": 2}
    with pytest.raises(KeyboardInterrupt):
        train_model(None, tmp_path / "r", given=given, simulate=params, on_epoch=stop)
    record = json.loads((tmp_path / "r.partial" / "train.json").read_text())
    assert record["simulation"]["seed"] == 1 and record["simulation"]["patch_size_px"] == 16
    changed = tmp_path / "other.yaml"
    changed.write_text(SIM_YAML.replace("seed: 1", "seed: 2"))
    assert_fails_with_one_line(_train("--simulate", changed, "-o", tmp_path / "r", "--resume"),
                               "simulation parameters differ")
    assert_fails_with_one_line(_train("--simulate", params, "-o", tmp_path / "r", "--resume",
                                      "--batch-size", "8"), "batch-size")
    done = _train("--simulate", params, "-o", tmp_path / "r", "--resume", "--epochs", "3")
    assert done.exit_code == 0, done.output
    assert "resumed at epoch 1" in done.stderr
    history = md.read_history(tmp_path / "r")
    assert history["epoch"].tolist() == [1, 2, 3]
