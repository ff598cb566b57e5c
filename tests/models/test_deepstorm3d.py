"""deepstorm3d: the architecture and its record, and the loss against a hand-computed case."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from smlmscale.errors import InputError
from smlmscale.models import build_model, model_kind
from smlmscale.models.deepstorm3d import build_deepstorm3d, upsampling_steps

keras = pytest.importorskip("keras")

GRID = {"generator": "deepstorm3d", "upsampling": 4, "z_voxels": 6,
        "z_range_nm": [-300.0, 300.0]}


def test_the_network_upsamples_to_the_voxel_grid_and_clips():
    keras.utils.set_random_seed(0)
    model = build_deepstorm3d((12, 10, 1), z_voxels=6, scaling_factor=2.0, filters=8)
    assert model.name == "deepstorm3d" and model.output_shape == (None, 48, 40, 6)
    out = model.predict(np.random.default_rng(0).random((2, 12, 10, 1), np.float32),
                        verbose=0)
    assert out.min() >= 0 and out.max() <= 2.0 and (out > 0).any()
    dilations = [layer.dilation_rate[0] for layer in model.layers
                 if layer.name.startswith("dilated") and layer.name.endswith("_conv")]
    assert dilations == [1, 2, 4, 8, 16]
    small = build_deepstorm3d((8, 8, 1), z_voxels=3, dilation_max=4, upsampling=2, filters=4)
    assert [layer.dilation_rate[0] for layer in small.layers
            if layer.name.startswith("dilated") and layer.name.endswith("_conv")] == [
        1, 2, 4, 1, 1]
    assert small.output_shape == (None, 16, 16, 3)
    assert upsampling_steps(4) == [2, 2] and upsampling_steps(3) == [3]


def test_the_record_checks_geometry_from_the_patch_set():
    kind = model_kind("deepstorm3d")
    assert kind.generators == ("deepstorm3d",) and kind.loss == "deepstorm3d"
    assert kind.fixed_loss and set(kind.options) == {"dilation_max", "scaling_factor",
                                                     "filters"}
    assert kind.check_geometry((16, 16, 1), (16, 16, 5), GRID) == ((16, 16, 1), (16, 16, 5))
    model = build_model("deepstorm3d", (16, 16, 1), (16, 16, 5),
                        params={**GRID, "filters": 4, "dilation_max": 4})
    assert model.output_shape == (None, 64, 64, 6)
    with pytest.raises(InputError, match=r"needs targets \(16, 16, 5\)"):
        kind.check_geometry((16, 16, 1), (64, 64, 6), GRID)
    with pytest.raises(InputError, match="needs the voxel grid of its patch set"):
        kind.check_geometry((16, 16, 1), (16, 16, 5), {"upsampling": 4})
    with pytest.raises(InputError, match="takes 1 input channel"):
        kind.check_geometry((16, 16, 3), (16, 16, 5), GRID)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"dilation_max": 8}, "maximal dilation must be 16 or 4"),
    ({"scaling_factor": 0.0}, "scaling factor must be greater than 0"),
    ({"z_voxels": 1}, "z_voxels >= 2"),
])
def test_bad_parameters(kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        build_deepstorm3d((8, 8, 1), **{"z_voxels": 4, **kwargs})


def _maps(n=2, size=3):
    """Sparse maps: 2 emitters in sample 0, none in sample 1."""
    maps = np.zeros((n, size, size, 5), np.float32)
    maps[0, 1, 2] = (1, 500, 0.3, -0.4, 130.0)   # voxel (4 + 0, 8 + 3, slice 4 of 6)
    maps[0, 0, 0] = (1, 800, -0.5, 0.49, -300.0)  # voxel (0 + 3, 0 + 0, slice 0)
    return maps


def test_voxel_targets_put_each_emitter_in_its_voxel():
    from smlmscale.models.deepstorm3d_loss import DeepStorm3DLoss

    loss = DeepStorm3DLoss(upsampling=4, z_range_nm=(-300, 300), z_voxels=6)
    grid = np.asarray(loss.voxel_targets(_maps()))
    assert grid.shape == (2, 12, 12, 6) and grid.sum() == 2 and grid[1].sum() == 0
    assert grid[0, 4, 11, 4] == 1 and grid[0, 3, 0, 0] == 1


def test_the_loss_equals_a_hand_computed_case():
    from smlmscale.models.deepstorm3d_loss import DeepStorm3DLoss, peak_kernel1d

    scale = 10.0
    maps = _maps()
    pred = np.random.default_rng(1).uniform(0, scale, (2, 12, 12, 6)).astype(np.float32)
    loss = DeepStorm3DLoss(upsampling=4, z_range_nm=(-300, 300), z_voxels=6,
                           scaling_factor=scale)
    target = np.zeros((2, 12, 12, 6))
    target[0, 4, 11, 4] = target[0, 3, 0, 0] = 1
    g = peak_kernel1d(1.0, 3).astype(np.float64)
    kernel = g[:, None, None] * g[None, :, None] * g[None, None, :]
    assert kernel.max() == 1 and kernel.shape == (7, 7, 7)
    want = []
    for p, t in zip(pred.astype(np.float64), target):
        blurred = ndimage.correlate(p - scale * t, kernel, mode="constant")
        kde = np.mean(blurred ** 2)
        q = p / scale
        dice = 1 - (2 * (q * t).sum() + 1) / ((q * q).sum() + (t * t).sum() + 1)
        want.append(kde + dice)
    got = np.asarray(loss.call(maps, pred))
    np.testing.assert_allclose(got, want, rtol=1e-4)
    kde_only = DeepStorm3DLoss(4, (-300, 300), 6, scale, dice_weight=0.0)
    assert float(np.asarray(kde_only.call(maps, pred))[1]) < want[1]
    # a perfect prediction costs nothing but the Dice smoothing
    perfect = np.asarray(loss.call(maps, (scale * target).astype(np.float32)))
    np.testing.assert_allclose(perfect, [0.0, 0.0], atol=1e-5)


def test_the_loss_is_registered_and_checked():
    from smlmscale.models import get_loss
    from smlmscale.models.deepstorm3d_loss import DeepStorm3DLoss

    loss = get_loss("deepstorm3d", upsampling=2, z_range_nm=[0, 100], z_voxels=5,
                    scaling_factor=80.0)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(again, DeepStorm3DLoss) and again.get_config() == loss.get_config()
    with pytest.raises(InputError, match="bad deepstorm3d loss parameters"):
        get_loss("deepstorm3d", z_range_nm=[5, 5])
    with pytest.raises(InputError, match=r"needs \(N, H, W, 5\) targets"):
        loss.call(np.zeros((1, 4, 4, 3), np.float32), np.zeros((1, 8, 8, 5), np.float32))
