"""The model records: one per kind, their geometry checked without keras."""

from __future__ import annotations

import subprocess
import sys

import pytest

from smlmscale.errors import InputError
from smlmscale.models import MODELS, MODEL_KINDS, model_kind
from smlmscale.models.kinds import LOSS_NAMES, models_for


def test_every_record_names_its_loss_generators_and_builder():
    from smlmscale.models.losses import LOSSES

    assert tuple(LOSSES) == LOSS_NAMES
    for name, kind in MODEL_KINDS.items():
        assert kind.name == name and kind.loss in LOSS_NAMES and kind.target_scale > 0
        assert kind.generators and MODELS[name] is kind.builder
        for generator in kind.generators:
            assert name in models_for(generator)
    assert models_for("deepstorm") == ["deepstorm", "autoencoder"]
    assert models_for(None) == []


def test_geometry_is_checked_from_the_record_without_keras():
    code = ("import sys; from smlmscale.models import model_kind; "
            "k = model_kind('unet'); k.check_geometry((16, 64, 1), (16, 64, 2)); "
            "model_kind('locnet').check_geometry((16, 16, 3), (16, 16, 6)); "
            "assert 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    deepstorm = model_kind("deepstorm")
    assert deepstorm.check_geometry([32, 32, 1], [32, 32, 1]) == ((32, 32, 1), (32, 32, 1))
    with pytest.raises(InputError, match="divisible by 8"):
        deepstorm.check_geometry((12, 12, 1), (12, 12, 1))
    with pytest.raises(InputError, match="targets are"):
        deepstorm.check_geometry((16, 16, 1), (32, 32, 1))
    with pytest.raises(InputError, match="input channel"):
        model_kind("counts").check_geometry((8, 8, 3), (8, 8, 1))
    with pytest.raises(InputError, match="unknown model kind 'resnet'"):
        model_kind("resnet")


def test_has_z_head():
    from smlmscale.models.kinds import has_z_head

    assert has_z_head("locnet", (32, 32, 6))
    assert not has_z_head("locnet", (32, 32, 5))
    assert not has_z_head("deepstorm3d", (64, 64, 25))
