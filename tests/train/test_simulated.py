"""``train --simulate``: settings of the YAML, the seeded on-the-fly source, training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.patches.stacks import normalize_adu
from smlmscale.patches.stacks_targets import target_maps
from smlmscale.train.simparams import SimTrainSettings
from smlmscale.train.simulated import (frames_pair, sample_rng, simulate_movie, simulated_pair,
                                       train_key)

SMALL = {"patch_size_px": 16, "density_per_um2": [1.0, 3.0], "validation_samples": 4,
         "seed": 3}


def _yaml(path, text):
    path.write_text(text)
    return path


def test_settings_round_trip_and_ranges():
    sim = SimTrainSettings.from_mapping(SMALL)
    assert SimTrainSettings.from_mapping(sim.to_mapping()) == sim
    assert sim.max_emitters >= 3 * sim.area_um2
    attrs = sim.attrs()
    assert attrs["photon_scale"] == 1.5 * sim.photons[1]
    assert attrs["normalization"]["offset_adu"] == sim.camera.baseline_adu
    assert attrs["background_units"] == "photons/px" and attrs["context"] == 3
    assert attrs["params"]["offset_adu"] == sim.camera.baseline_adu
    assert attrs["params"]["max_emitters"] == attrs["max_emitters"] == sim.max_emitters


def test_on_time_is_a_range_drawn_per_sample():
    assert SimTrainSettings.from_mapping({"on_frames_mean": 3}).on_frames_mean == (3.0, 3.0)
    fixed = SimTrainSettings.from_mapping(SMALL)
    assert fixed.movie(np.random.default_rng(0), seed=0).emitters.on_frames_mean == 3.0
    sim = SimTrainSettings.from_mapping({**SMALL, "on_frames_mean": [1.0, 6.0]})
    rng = np.random.default_rng(0)
    means = {sim.movie(rng, seed=0).emitters.on_frames_mean for _ in range(20)}
    assert len(means) == 20 and all(1.0 <= m <= 6.0 for m in means)


def test_a_share_of_samples_blinks_for_one_frame():
    fixed = SimTrainSettings.from_mapping(SMALL)
    none = SimTrainSettings.from_mapping({**SMALL, "single_frame_share": 0})
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert fixed.movie(a, seed=0) == none.movie(b, seed=0)
    assert a.random() == b.random()                  # a share of 0 draws nothing
    half = SimTrainSettings.from_mapping({**SMALL, "single_frame_share": 0.5})
    rng = np.random.default_rng(0)
    means = [half.movie(rng, seed=0).emitters.on_frames_mean for _ in range(200)]
    assert set(means) == {1.0, 3.0} and 70 < means.count(1.0) < 130
    every = SimTrainSettings.from_mapping({**SMALL, "single_frame_share": 1,
                                           "density_per_um2": [4.0, 6.0]})
    for k in range(3):
        _, _, truth = simulate_movie(every, sample_rng(every.seed, 0, 0, k, 1))
        assert len(truth) and not truth.duplicated("emitter").any()   # each in one frame


@pytest.mark.parametrize("text, fragment", [
    ("densty_per_um2: [1, 2]\n", "densty_per_um2"),
    ("single_frame_share: 1.5\n", "single_frame_share"),
    ("photons: [5000, 1000]\n", "photons"),
    ("on_frames_mean: [4, 1]\n", "on_frames_mean"),
    ("on_frames_mean: 0.5\n", "on_frames_mean"),
    ("- 1\n- 2\n", "mapping"),
    ("camera:\n  gian: 2\n", "gian"),
])
def test_bad_yaml_is_refused_by_name(tmp_path, text, fragment):
    with pytest.raises(InputError, match=fragment):
        SimTrainSettings.from_file(_yaml(tmp_path / "sim.yaml", text))


def test_same_key_same_sample_other_key_other_sample():
    sim = SimTrainSettings.from_mapping(SMALL)
    a, b = simulated_pair(sim, 0, 0, 0, 1), simulated_pair(sim, 0, 0, 0, 1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = simulated_pair(sim, 0, 0, 1, 1)
    assert not np.array_equal(a[0], c[0])
    assert train_key(13, steps_per_epoch=3, batch_size=4) == (0, 1, 0, 1)


def test_pair_equals_the_frames_kernels_on_the_same_frames():
    sim = SimTrainSettings.from_mapping(SMALL)
    movie, frames, truth = simulate_movie(sim, sample_rng(sim.seed, 0, 2, 5, 1))
    x, y = frames_pair(sim, movie, frames, truth)
    norm = sim.normalization
    assert x.shape == (16, 16, 3) and y.shape == (16, 16, 5)
    np.testing.assert_array_equal(x, np.moveaxis(normalize_adu(frames, norm["offset_adu"],
                                                               norm["scale_adu"]), 0, -1))
    import pandas as pd

    members = pd.DataFrame({"patch": 0, "x_px": truth["x_nm"] / 100.0,
                            "y_px": truth["y_nm"] / 100.0, "photons": truth["photons"]})
    corners = pd.DataFrame({"frame": [1], "row0": [0], "col0": [0]})
    maps, _ = target_maps(members, corners, n=1, size_px=16, is_3d=False)
    np.testing.assert_array_equal(y[..., :4], maps[0])
    assert (truth["frame"] == 1).all() and y[..., 0].sum() >= 1
    from smlmscale.simulate.frames import movie_model

    np.testing.assert_allclose(y[..., 4], movie_model(movie).background, rtol=1e-6)


def test_stream_batches_are_deterministic():
    pytest.importorskip("tensorflow")
    from smlmscale.train.simulated import simulated_stream

    sim = SimTrainSettings.from_mapping(SMALL)
    first = [next(iter(simulated_stream(sim, steps_per_epoch=2, batch_size=3)))
             for _ in range(2)]
    np.testing.assert_array_equal(first[0][0].numpy(), first[1][0].numpy())
    x, y = first[0]
    assert x.shape == (3, 16, 16, 3) and y.shape == (3, 16, 16, 5)
    np.testing.assert_array_equal(x.numpy()[2], simulated_pair(sim, 0, 0, 0, 2)[0])
    later = next(iter(simulated_stream(sim, steps_per_epoch=2, batch_size=3, initial_epoch=1)))
    np.testing.assert_array_equal(later[0].numpy()[0], simulated_pair(sim, 0, 1, 0, 0)[0])
    assert not np.array_equal(later[0].numpy(), x.numpy())


def test_prepare_refuses_both_or_neither_and_other_models(tmp_path):
    from smlmscale.train.prepare import prepare_train

    params = _yaml(tmp_path / "sim.yaml", "patch_size_px: 16\n")
    with pytest.raises(InputError, match="not both"):
        prepare_train(tmp_path / "x.zarr", tmp_path / "m", simulate=params)
    with pytest.raises(InputError, match="neither"):
        prepare_train(None, tmp_path / "m")
    with pytest.raises(InputError, match="deepstorm"):
        prepare_train(None, tmp_path / "m", simulate=params, given={"model": "deepstorm"})
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.partial").exists()


def test_simulated_training_records_the_simulation(tmp_path):
    pytest.importorskip("keras")
    from smlmscale.io import modeldir as md
    from smlmscale.train.run import train_model

    params = _yaml(tmp_path / "sim.yaml", json.dumps(SMALL))
    given = {"model": "locnet", "epochs": 1, "batch_size": 4, "steps_per_epoch": 2,
             "filters": 8}
    result = train_model(None, tmp_path / "m", given=given, simulate=params)
    # train --filters reaches the builder: 8 at full resolution, doubled per level
    assert result.model.get_layer("context_down0").filters == 8
    assert result.model.get_layer("context_bottom").filters == 32
    meta = json.loads((tmp_path / "m" / md.META_FILE).read_text())
    sim = SimTrainSettings.from_mapping(SMALL)
    assert meta["normalization"] == sim.normalization
    assert meta["simulation"] == sim.to_mapping() and meta["generator"] == "frames"
    assert meta["loss"]["max_emitters"] == sim.max_emitters
    assert meta["model_options"] == {"filters": 8}
    assert result.monitor == "val_loss" and np.isfinite(result.best)


def test_bfloat16_training_saves_a_float32_model(tmp_path):
    keras = pytest.importorskip("keras")
    from smlmscale.io import modeldir as md
    from smlmscale.train.run import train_model

    params = _yaml(tmp_path / "sim.yaml", json.dumps(SMALL))
    given = {"model": "locnet", "epochs": 1, "batch_size": 4, "steps_per_epoch": 2,
             "filters": 4, "precision": "bfloat16"}
    result = train_model(None, tmp_path / "m", given=given, simulate=params)
    assert result.device.endswith("mixed_bfloat16")
    saved = keras.saving.load_model(tmp_path / "m" / md.MODEL_FILE, compile=False)
    frame_net = saved.get_layer("frame_net")
    policies = {layer.dtype_policy.name for m in (saved, frame_net) for layer in m.layers}
    assert policies == {"float32"} and saved.output.dtype == "float32"
    meta = json.loads((tmp_path / "m" / md.META_FILE).read_text())
    assert meta["training"]["precision"] == "bfloat16"
    # the checkpoint trained in bfloat16 with float32 heads, as bfloat16 prediction runs
    ckpt = sorted((tmp_path / "m" / md.CHECKPOINTS).glob("*.keras"))[-1]
    trained = keras.saving.load_model(ckpt, compile=False)
    assert trained.get_layer("context_down0").dtype_policy.name == "mixed_bfloat16"
    assert trained.get_layer("head_p").dtype_policy.name == "float32"
    np.testing.assert_array_equal(saved.get_weights()[0], trained.get_weights()[0])


def test_auto_precision_trains_a_3d_locnet_in_float32(tmp_path, monkeypatch):
    pytest.importorskip("keras")
    from smlmscale.io import modeldir as md
    from smlmscale.predict import precision as pr
    from smlmscale.train.run import train_model

    monkeypatch.setattr(pr, "cpu_has_bf16", lambda *a: True)     # a CPU with bfloat16
    monkeypatch.setattr(pr, "_gpu_visible", lambda: False)
    params = _yaml(tmp_path / "sim.yaml", json.dumps(
        {**SMALL, "psf": {"model": "astigmatic", "z_range_nm": [-600.0, 600.0]}}))
    given = {"model": "locnet", "epochs": 1, "batch_size": 4, "steps_per_epoch": 2,
             "filters": 4}
    result = train_model(None, tmp_path / "m", given=given, simulate=params)
    assert result.device.endswith(", float32")
    meta = json.loads((tmp_path / "m" / md.META_FILE).read_text())
    assert meta["target_shape"][-1] == 6 and meta["training"]["precision"] == "auto"
