"""The locnet model: shapes, head ranges, shared frame weights, its record, safe-mode reload."""

from __future__ import annotations

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.models import build_locnet, build_model, model_kind
from smlmscale.models import locnet
from smlmscale.models import locnet_layout as layout


def _frames(shape, seed=0):
    return np.random.default_rng(seed).normal(0, 1, shape).astype(np.float32)


@pytest.mark.parametrize(("is_3d", "context"), [(False, 3), (True, 1)])
def test_outputs_in_the_heads_ranges(is_3d, context):
    model = build_locnet((16, 16, context), is_3d=is_3d, photon_scale=5000.0,
                         z_range_nm=(-400.0, 600.0) if is_3d else None,
                         background_scale=20.0, filters=8)
    names = locnet.output_names(is_3d)
    assert model.output_shape == (None, 16, 16, len(names)) == (None, 16, 16, 10 if is_3d else 8)
    out = np.asarray(model(_frames((2, 16, 16, context)) * 3))
    c = locnet.channel_index(is_3d)
    # closed bounds: float32 sigmoid and tanh round to 0 or 1 when saturated
    assert np.all((out[..., c["p"]] >= 0) & (out[..., c["p"]] <= 1))
    assert np.all((out[..., c["photons"]] >= 0) & (out[..., c["photons"]] <= 5000))
    assert np.all(np.abs(out[..., [c["dx"], c["dy"]]]) <= 1)
    sigmas = [c[n] for n in names if n.startswith("sigma")]
    assert np.all(out[..., sigmas] > 0) and np.all(out[..., c["background"]] >= 0)
    if is_3d:
        assert np.all((out[..., c["z"]] >= -400) & (out[..., c["z"]] <= 600))
    assert layout.head_constants(model) == {
        "is_3d": is_3d, "photon_scale": 5000.0, "context": context,
        "z_range_nm": (-400.0, 600.0) if is_3d else None, "background_scale": 20.0}


def test_fully_convolutional_and_frame_weights_shared():
    model = build_locnet((None, None, 3), photon_scale=1000.0, filters=8)
    for shape in ((1, 8, 12, 3), (1, 20, 16, 3)):
        assert np.asarray(model(_frames(shape))).shape == (*shape[:3], 8)
    frame_nets = [layer for layer in model.layers if layer.name == "frame_net"]
    assert len(frame_nets) == 1
    # one frame net: its weights count once, not K times
    alone = build_locnet((None, None, 1), photon_scale=1000.0, filters=8)
    frame_params = frame_nets[0].count_params()
    context_in = 3 * 8 * 9 * 8 - 8 * 9 * 8  # the context U-Net's first conv sees 3x8 channels
    assert model.count_params() - alone.count_params() == context_in
    assert frame_params > 0


def test_builder_refuses_bad_arguments():
    with pytest.raises(InputError, match="input channel"):
        build_locnet((16, 16, 2), photon_scale=1000.0)
    with pytest.raises(InputError, match="divisible by 4"):
        build_locnet((18, 16, 3), photon_scale=1000.0)
    with pytest.raises(InputError, match="z range"):
        build_locnet((16, 16, 3), is_3d=True, photon_scale=1000.0, z_range_nm=(5, -5))
    with pytest.raises(InputError, match="positive photon scale"):
        build_locnet((16, 16, 3), photon_scale=0.0)
    with pytest.raises(InputError, match="head_filters >= 0"):
        build_locnet((16, 16, 3), photon_scale=1000.0, head_filters=-1)
    with pytest.raises(InputError, match="full_convs >= 1"):
        build_locnet((16, 16, 3), photon_scale=1000.0, full_convs=0)


def test_record_maps_targets_to_outputs():
    # (tests/models/test_kinds.py checks the geometry is checked without keras)
    kind = model_kind("locnet")
    assert (kind.generators, kind.loss, kind.target_scale) == (("frames",), "locnet", 1.0)
    assert kind.check_geometry((16, 16, 1), (16, 16, 5)) == ((16, 16, 1), (16, 16, 5))
    assert [locnet.output_channels(c) for c in (5, 6)] == [8, 10]
    with pytest.raises(InputError, match="5 \\(2D\\) or 6 \\(3D\\)"):
        kind.check_geometry((16, 16, 3), (16, 16, 8))
    with pytest.raises(InputError, match="targets are"):
        kind.check_geometry((16, 16, 3), (32, 32, 5))
    with pytest.raises(InputError, match="input channel"):
        kind.check_geometry((16, 16, 5), (16, 16, 5))


def test_build_reads_the_patch_set_attrs():
    attrs = {"context": 3, "is_3d": True, "z_range_nm": [-600, 600], "photon_scale": 8000,
             "background_units": "input", "max_emitters": 12, "filters": 8}
    model = build_model("locnet", (16, 16, 3), (16, 16, 6), params=attrs)
    assert model.output_shape == (None, 16, 16, 10)
    assert layout.head_constants(model) == {
        "is_3d": True, "photon_scale": 8000.0, "z_range_nm": (-600.0, 600.0),
        "background_scale": 1.0, "context": 3}
    kwargs = locnet.builder_kwargs(None, (16, 16, 1), (16, 16, 5))
    assert kwargs == {"is_3d": False, "photon_scale": locnet.DEFAULT_PHOTON_SCALE,
                      "background_scale": locnet.DEFAULT_BACKGROUND_SCALE["photons/px"]}
    assert locnet.builder_kwargs({}, (16, 16, 3), (16, 16, 6))["z_range_nm"] == \
        locnet.DEFAULT_Z_RANGE_NM
    assert locnet.builder_kwargs({"head_filters": 0}, (16, 16, 3), (16, 16, 5))[
        "head_filters"] == 0
    assert locnet.builder_kwargs({"full_convs": 1}, (16, 16, 3), (16, 16, 5))[
        "full_convs"] == 1
    with pytest.raises(InputError, match="is_3d"):
        locnet.builder_kwargs({"is_3d": False}, (16, 16, 3), (16, 16, 6))
    with pytest.raises(InputError, match="context"):
        locnet.builder_kwargs({"context": 3}, (16, 16, 1), (16, 16, 5))


def test_trains_saves_and_reloads_in_safe_mode(tmp_path):
    import keras

    from smlmscale.io.modeldir import load_keras_model
    from smlmscale.models import get_loss

    model = build_model("locnet", (8, 8, 3), (8, 8, 5), params={"filters": 4})
    model.compile(optimizer="adam", loss=get_loss("locnet", max_emitters=4))
    x = _frames((4, 8, 8, 3))
    y = np.zeros((4, 8, 8, 5), np.float32)
    y[:, 2, 3, :4] = (1.0, 1000.0, 0.1, -0.2)
    y[..., 4] = 20.0
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_keras_model(path, compile=True)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert loaded.loss.max_emitters == 4
    assert isinstance(keras.saving.load_model(path, safe_mode=True), keras.Model)
