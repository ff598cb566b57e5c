"""Training settings: checks, defaults per model, resume merging, model-patch-set fit."""

from __future__ import annotations

import pytest

from smlmscale.errors import InputError
from smlmscale.models.kinds import MODEL_KINDS
from smlmscale.settings import option_help
from smlmscale.train.settings import DEFAULT_BUDGET, TrainSettings, check_generator


@pytest.mark.parametrize("field, value, message", [
    ("model", "resnet", "unknown model"),
    ("epochs", 0, "--epochs must be at least 1"),
    ("batch_size", 2.5, "--batch-size must be an integer"),
    ("lr", -1.0, "--lr must be a positive number"),
    ("lr", float("nan"), "--lr must be a positive number"),
    ("min_lr", 0, "--min-lr must be a positive number"),
    ("target_sigma_px", 0.0, "--target-sigma must be a positive number"),
    ("target_scale", -2.0, "--target-scale must be a positive number"),
    ("l1_weight", -0.1, "--l1-weight must be >= 0"),
    ("lr_factor", 1.0, "--lr-factor must be in"),
    ("patience", 0, "--patience must be at least 1"),
    ("memory_budget", 0, "--memory-budget must be at least 1"),
    ("loss", "huber", "unknown loss"),
])
def test_bad_settings_are_refused_with_the_option_named(field, value, message):
    with pytest.raises(InputError, match=message):
        TrainSettings(**{field: value})


def test_defaults_per_model():
    assert TrainSettings().loss_name == "mse" and TrainSettings().scale == 100.0
    auto = TrainSettings(model="autoencoder")
    assert auto.loss_name == "blurred-mse"
    assert auto.loss_params() == {"sigma_px": 1.0, "l1_weight": 0.0}
    counts = TrainSettings(model="counts")
    assert counts.loss_name == "poisson" and counts.scale == 1.0 and counts.loss_params() == {}
    assert TrainSettings(model="unet", target_scale=5.0).scale == 5.0
    assert TrainSettings(loss="blurred-mse", target_sigma_px=2.0).loss_params()["sigma_px"] == 2
    # the learning rate: the kind's unless given, and held by the settings (the record)
    assert TrainSettings().lr == 1e-3 and TrainSettings(model="locnet").lr == 2e-3
    assert TrainSettings(model="locnet", lr=5e-4).lr == 5e-4
    stored = TrainSettings(model="locnet")
    assert TrainSettings.from_mapping(stored.to_mapping()).lr == 2e-3


def test_round_trip_and_resume_merge():
    stored = TrainSettings(model="unet", epochs=10, batch_size=80, seed=3)
    assert TrainSettings.from_mapping(stored.to_mapping()) == stored
    with pytest.raises(InputError, match="unknown parameter.* unknown"):
        TrainSettings.from_mapping({**stored.to_mapping(), "unknown": 1}, source="train.json")
    merged = stored.merged({"epochs": 20, "batch_size": 80, "seed": None})
    assert merged.epochs == 20 and merged.batch_size == 80
    with pytest.raises(InputError, match="--batch-size 16 differs .* 80"):
        stored.merged({"batch_size": 16})
    with pytest.raises(InputError, match="--target-sigma 2.0 differs"):
        stored.merged({"target_sigma_px": 2.0})


def test_check_generator_names_what_fits():
    for model, kind in MODEL_KINDS.items():
        for generator in kind.generators:
            check_generator(model, generator, "ps.zarr")
    with pytest.raises(InputError, match="unet model trains on fusion .* deepstorm patches"
                       ) as info:
        check_generator("unet", "deepstorm", "ps.zarr")
    assert "--model deepstorm or autoencoder" in info.value.hint
    with pytest.raises(InputError, match="holds unknown patches"):
        check_generator("counts", None, "ps.zarr")


def test_merged_refuses_a_bad_given_value_and_names_its_parameter():
    stored = TrainSettings(epochs=10)
    with pytest.raises(InputError, match="--epochs must be at least 1") as info:
        stored.merged({"epochs": 0})
    assert info.value.param == "epochs"
    with pytest.raises(InputError) as info:
        stored.merged({"target_sigma_px": 3.0})
    assert info.value.param == "target_sigma_px"


def test_help_defaults_come_from_the_fields_and_the_model_records():
    assert option_help(TrainSettings, "epochs").endswith("[50].")
    assert option_help(TrainSettings, "memory_budget").endswith(
        f"[{DEFAULT_BUDGET // 2**30}GiB].")
    assert option_help(TrainSettings, "loss").endswith(
        "[mse; autoencoder blurred-mse; counts poisson; locnet locnet; deepstorm3d "
        "deepstorm3d].")
    assert option_help(TrainSettings, "lr").endswith("[0.001; locnet 0.002].")
    assert option_help(TrainSettings, "filters").endswith("[locnet 24; deepstorm3d 64].")
    for name, kind in MODEL_KINDS.items():
        assert TrainSettings(model=name).loss_name == kind.loss
        assert TrainSettings(model=name).scale == kind.target_scale
        assert name in option_help(TrainSettings, "model")
