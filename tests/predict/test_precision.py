"""``predict --precision``: when bfloat16 is chosen, and what a bfloat16 clone computes."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.predict import precision as pr
from smlmscale.predict.model_cache import cached_predictor, clear_cache
from tests.predict.test_locnet import locnet_folder

keras = pytest.importorskip("keras")


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def _cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: x\nflags\t\t: fpu sse2 {flags}\n\n")
    return str(path)


def test_cpu_flags_decide_native_bf16(tmp_path):
    assert pr.cpu_has_bf16(_cpuinfo(tmp_path, "avx2 avx512f avx512_bf16"))
    assert pr.cpu_has_bf16(_cpuinfo(tmp_path, "avx2 amx_tile amx_bf16"))
    assert not pr.cpu_has_bf16(_cpuinfo(tmp_path, "avx2 avx512f avx512_vnni"))
    assert not pr.cpu_has_bf16(str(tmp_path / "missing"))


@pytest.mark.parametrize("native, gpu, kind, expected", [
    (True, False, "locnet", "bfloat16"), (False, False, "locnet", "float32"),
    (True, True, "locnet", "float32"), (True, False, "deepstorm", "float32")])
def test_auto_picks_bf16_for_locnet_on_a_native_cpu_only(monkeypatch, native, gpu, kind,
                                                          expected):
    monkeypatch.setattr(pr, "cpu_has_bf16", lambda *a: native)
    monkeypatch.setattr(pr, "_gpu_visible", lambda: gpu)
    assert pr.resolve_precision("auto", model_kind=kind) == expected
    assert pr.resolve_precision("float32", model_kind=kind) == "float32"
    assert pr.resolve_precision("bfloat16", model_kind=kind) == "bfloat16"


def test_unknown_precision_is_refused():
    with pytest.raises(InputError, match="unknown precision 'half'"):
        pr.resolve_precision("half", model_kind="locnet")


def test_bf16_clone_keeps_weights_and_float32_heads_and_agrees(tmp_path):
    folder = locnet_folder(tmp_path / "m")
    f32 = cached_predictor(folder, "float32")
    bf16 = cached_predictor(folder, "bfloat16")
    assert (f32.precision, bf16.precision) == ("float32", "bfloat16")
    assert bf16.model is not f32.model and cached_predictor(folder, "bfloat16") is bf16
    policies = {layer.name: layer.dtype_policy.name for layer in bf16.model.layers}
    assert policies["context_down0"] == "mixed_bfloat16"
    assert policies["head_p"] == policies["head_dxy"] == policies["locnet_output"] == "float32"
    frame = {layer.name: layer.dtype_policy.name
             for layer in bf16.model.get_layer("frame_net").layers}
    assert frame["frame_down0"] == "mixed_bfloat16"
    for a, b in zip(f32.model.get_weights(), bf16.model.get_weights()):
        assert b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).normal(0.0, 1.0, (2, 32, 48, 3)).astype(np.float32)
    want, got = f32(x), bf16(x)
    assert got.dtype == np.float32 and got.shape == want.shape
    # bfloat16 keeps 8 significant bits: an untrained net's maps agree to a few % of their
    # range on average, 10 % at worst over random inputs (the trained m4 model: 0.02 in p,
    # 0.015 px in dx, dy; benchmarks/RESULTS.md)
    span = want.max(axis=(0, 1, 2)) - want.min(axis=(0, 1, 2))
    error = np.abs(got - want)
    assert np.all(error.max(axis=(0, 1, 2)) <= 0.1 * span + 1e-3), (error.max((0, 1, 2)), span)
    assert np.all(error.mean(axis=(0, 1, 2)) <= 0.02 * span), (error.mean((0, 1, 2)), span)
    assert not np.array_equal(got, want)  # it did compute in bfloat16
    features = np.asarray(bf16.split.frame(x[..., :1]), np.float32)
    reference = f32.split.frame(x[..., :1])
    assert np.abs(features - reference).max() <= 0.05 * np.ptp(reference)


def test_auto_shares_the_predictor_of_the_precision_it_resolves_to(tmp_path, monkeypatch):
    folder = locnet_folder(tmp_path / "m")
    monkeypatch.setattr(pr, "_gpu_visible", lambda: False)
    monkeypatch.setattr(pr, "cpu_has_bf16", lambda *a: True)
    assert cached_predictor(folder, "auto") is cached_predictor(folder, "bfloat16")
    # a repeated request finds its predictor without resolving the precision again
    monkeypatch.setattr(pr, "resolve_precision", lambda *a, **k: pytest.fail("resolved"))
    assert cached_predictor(folder, "auto").precision == "bfloat16"
    monkeypatch.undo()
    monkeypatch.setattr(pr, "_gpu_visible", lambda: False)
    clear_cache()
    monkeypatch.setattr(pr, "cpu_has_bf16", lambda *a: False)
    f32 = cached_predictor(folder, "auto")
    assert f32 is cached_predictor(folder, "float32") and f32.precision == "float32"
    # one clone: free spatial input and float32 weights, a new model
    assert tuple(f32.model.inputs[0].shape) == (None, None, None, 3)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_model_with_a_list_input_gets_a_free_input(precision):
    """Training under a mixed policy wraps the model as ``keras.Model([x], y)``
    (:func:`~smlmscale.train.devices.float32_output`): its clone keeps that structure."""
    from smlmscale.models.locnet import build_locnet
    from smlmscale.predict.model_cache import flexible
    from smlmscale.train.devices import float32_output

    net = build_locnet((16, 16, 3), photon_scale=1000.0, filters=4)
    wrapped = keras.Model(net.inputs, keras.layers.Activation("linear", name="out")(net.output))
    assert isinstance(wrapped.input, list)
    for model in (wrapped, float32_output(net)):
        free = flexible(model, precision)
        x = np.random.default_rng(1).normal(0, 1, (1, 24, 32, 3)).astype(np.float32)
        assert free.predict_on_batch(x).shape == (1, 24, 32, 8)


def test_bf16_tiles_equal_the_whole_movie(tmp_path):
    """Tiled prediction equals whole-frame prediction in bfloat16 as in float32 (each
    pixel's arithmetic does not depend on the tile it is computed in)."""
    from tests.predict.test_locnet import _movie, _same, _whole

    folder = locnet_folder(tmp_path / "m")
    movie = _movie(tmp_path / "m.zarr")
    bf16 = cached_predictor(folder, "bfloat16")
    (whole, _), _ = _whole(movie, folder, predictor=bf16)
    (tiled, _), grid = _whole(movie, folder, tile=16, predictor=bf16)
    assert len(grid.windows()) > 1
    _same(tiled, whole)


def test_float32_layers_clones_a_mixed_model_with_its_weights_and_optimizer():
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same",
                                                    dtype="mixed_bfloat16")(inputs))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-4), loss="mse")
    plain = pr.float32_layers(model)
    assert {layer.dtype_policy.name for layer in plain.layers} == {"float32"}
    np.testing.assert_array_equal(plain.get_weights()[0], model.get_weights()[0])
    assert plain.optimizer is not model.optimizer
    assert float(plain.optimizer.learning_rate) == pytest.approx(3e-4)
    assert plain.loss == "mse"
    assert pr.float32_layers(plain) is plain
    back = pr.with_precision(plain, "bfloat16")     # the same clone, the other way
    assert back.layers[-1].dtype_policy.name == "float32"     # the last layer stays float32
    np.testing.assert_array_equal(back.get_weights()[0], model.get_weights()[0])

