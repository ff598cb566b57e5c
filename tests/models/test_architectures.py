"""The model builders: output shapes, geometry checks, safe-mode save and reload."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.models import MODELS, build_model
from smlmscale.models.architectures import check_input_shape


@pytest.mark.parametrize(("kind", "input_shape", "target_shape"), [
    ("deepstorm", (208, 208, 1), (208, 208, 1)),
    ("unet", (16, 64, 1), (16, 64, 1)),
    ("autoencoder", (208, 208, 1), (208, 208, 1)),
    ("counts", (32, 32, 2), (32, 32, 1)),
    ("counts", (20, 28, 1), (20, 28, 1)),
])
def test_output_shapes(kind, input_shape, target_shape):
    model = build_model(kind, input_shape, target_shape)
    assert model.input_shape == (None, *input_shape)
    assert model.output_shape == (None, *target_shape)


def test_forward_pass_small():
    x = np.random.default_rng(0).random((2, 16, 64, 1), dtype=np.float32)
    y = np.asarray(build_model("unet", (16, 64, 1), (16, 64, 1))(x))
    assert y.shape == (2, 16, 64, 1)
    assert np.all((y >= 0) & (y <= 1))
    x = np.random.default_rng(1).random((2, 8, 8, 2), dtype=np.float32)
    counts = np.asarray(build_model("counts", (8, 8, 2), (8, 8, 1))(x))
    assert np.all(counts >= 0)
    x = np.random.default_rng(2).random((2, 16, 16, 1), dtype=np.float32)
    ae = np.asarray(build_model("autoencoder", (16, 16, 1), (16, 16, 1))(x))
    assert np.all(ae >= 0)


def test_multichannel_targets():
    model = build_model("deepstorm", (16, 16, 1), (16, 16, 3))
    assert model.output_shape == (None, 16, 16, 3)


@pytest.mark.parametrize("kind", ["deepstorm", "unet", "autoencoder"])
@pytest.mark.parametrize("shape", [(20, 64, 1), (16, 60, 1), (4, 4, 1)])
def test_not_divisible_by_8(kind, shape):
    with pytest.raises(InputError, match="divisible by 8"):
        MODELS[kind](shape)


@pytest.mark.parametrize("shape", [(32, 32, 3), (32, 32, 0)])
def test_counts_channels(shape):
    with pytest.raises(InputError):
        MODELS["counts"](shape)


@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 1, 1), (0, 16, 1), None, "abc"])
def test_bad_shape(shape):
    with pytest.raises(InputError, match=r"\(H, W, C\)"):
        check_input_shape(shape, model="deepstorm")


def test_build_model_errors():
    with pytest.raises(InputError, match="unknown model kind"):
        build_model("resnet", (16, 16, 1), (16, 16, 1))
    with pytest.raises(InputError, match="targets are"):
        build_model("deepstorm", (16, 16, 1), (32, 32, 1))
    with pytest.raises(InputError, match="target shape"):
        build_model("counts", (16, 16, 1), (16, 16))
    err = None
    try:
        build_model("unet", (16, 60, 1), (16, 60, 1))
    except InputError as exc:
        err = exc
    assert err is not None and err.hint and "\n" not in str(err)


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, smlmscale, smlmscale.models; "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("kind", "shape", "loss"), [
    ("autoencoder", (16, 16, 1), "blurred"),
    ("unet", (16, 64, 1), "mse"),
    ("counts", (8, 8, 2), "poisson"),
])
def test_save_reload_safe_mode(tmp_path, kind, shape, loss):
    import keras

    from smlmscale.models import losses

    target = (*shape[:2], 1)
    model = build_model(kind, shape, target)
    fn = {"blurred": losses.blurred_mse_l1(1.0, 1e-3), "mse": losses.mse,
          "poisson": losses.poisson_counts}[loss]
    model.compile(optimizer="adam", loss=fn)
    rng = np.random.default_rng(2)
    x = rng.random((4, *shape), dtype=np.float32)
    y = rng.random((4, *target), dtype=np.float32)
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    if loss == "blurred":
        assert loaded.loss.sigma_px == 1.0 and loaded.loss.l1_weight == 1e-3
