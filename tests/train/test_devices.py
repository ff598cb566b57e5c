"""Strategy and precision: one replica on a CPU, MirroredStrategy over several devices."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.train.devices import choose_strategy, float32_output, precision

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


def test_one_or_no_gpu_gets_the_default_strategy():
    assert choose_strategy([]) is tf.distribute.get_strategy()
    assert choose_strategy(["/device:GPU:0"]).num_replicas_in_sync == 1


def test_mixed_precision_needs_a_gpu_and_the_policy_is_restored():
    before = keras.config.dtype_policy().name
    with pytest.raises(InputError, match="needs a GPU"):
        with precision(True, gpus=[]):
            pass
    with precision(True, gpus=["/device:GPU:0"]) as name:
        assert name == "mixed_float16"
        inputs = keras.Input((8, 8, 1))
        model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs))
        assert model.output.dtype == "float16"
        assert float32_output(model).output.dtype == "float32"
    assert keras.config.dtype_policy().name == before
    with precision(False, gpus=[]) as name:
        assert name == "float32"


SCRIPT = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
import smlmscale.train.run as run
from smlmscale.train import devices
from tests.train import numbered_patchset

names = [d.name for d in tf.config.list_logical_devices("CPU")]
# Stand two logical CPUs in for two GPUs: train_model then builds a MirroredStrategy.
devices.visible_gpus = lambda: names
run_ps = numbered_patchset(r"{folder}/ps.zarr", n=96, chunk=32)
result = run.train_model(run_ps.path, r"{folder}/m", given={{"epochs": 2, "batch_size": 16}})
print("DEVICE", result.device)
print("EPOCHS", result.epochs_run)
"""


def test_two_devices_train_with_a_mirrored_strategy(tmp_path):
    script = textwrap.dedent(SCRIPT.format(folder=tmp_path))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=240, cwd=str(Path(__file__).parents[2]))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "DEVICE MirroredStrategy over 2 GPUs, float32" in done.stdout
    assert "EPOCHS 2" in done.stdout
    assert (tmp_path / "m" / "model.keras").is_file()


def test_train_arithmetic_follows_the_cpu_and_refuses_a_clash(monkeypatch):
    from smlmscale.predict import precision as pr
    from smlmscale.train.devices import train_arithmetic

    monkeypatch.setattr(pr, "cpu_has_bf16", lambda *a: True)
    monkeypatch.setattr(pr, "_gpu_visible", lambda: False)
    assert train_arithmetic("auto", model_kind="locnet", mixed=False, gpus=[]) == "bfloat16"
    assert train_arithmetic("auto", model_kind="locnet", mixed=False, gpus=[],
                            is_3d=True) == "float32"     # z learns worse in bfloat16
    assert train_arithmetic("bfloat16", model_kind="locnet", mixed=False, gpus=[],
                            is_3d=True) == "bfloat16"    # unless asked for
    assert train_arithmetic("auto", model_kind="deepstorm", mixed=False, gpus=[]) == "float32"
    assert train_arithmetic("auto", model_kind="locnet", mixed=False,
                            gpus=["/device:GPU:0"]) == "float32"
    assert train_arithmetic("float32", model_kind="locnet", mixed=False, gpus=[]) == "float32"
    assert train_arithmetic("auto", model_kind="locnet", mixed=True,
                            gpus=["/device:GPU:0"]) == "float16"
    with pytest.raises(InputError, match="needs a GPU"):
        train_arithmetic("auto", model_kind="locnet", mixed=True, gpus=[])
    monkeypatch.setattr(pr, "cpu_has_bf16", lambda *a: False)
    assert train_arithmetic("auto", model_kind="locnet", mixed=False, gpus=[]) == "float32"
    with pytest.raises(InputError, match="exclude each other"):
        train_arithmetic("bfloat16", model_kind="locnet", mixed=True, gpus=[])


def test_check_arithmetic_refuses_what_cannot_run():
    from smlmscale.train.devices import check_arithmetic

    check_arithmetic("bfloat16", mixed=False, gpus=[])
    check_arithmetic("auto", mixed=True, gpus=["/device:GPU:0"])
    with pytest.raises(InputError, match="exclude each other"):
        check_arithmetic("bfloat16", mixed=True, gpus=["/device:GPU:0"])
    with pytest.raises(InputError, match="needs a GPU"):
        check_arithmetic("auto", mixed=True, gpus=[])
