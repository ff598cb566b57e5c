"""deepstorm3d training: its options, the patch sets it takes, the model folder, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.train.settings import TrainSettings

keras = pytest.importorskip("keras")

from smlmscale.io import modeldir as md  # noqa: E402
from smlmscale.patches.patchset import open_patchset  # noqa: E402
from smlmscale.train.prepare import prepare_train  # noqa: E402
from smlmscale.train.run import train_model  # noqa: E402

SMALL = {"model": "deepstorm3d", "batch_size": 8, "filters": 4, "dilation_max": 4,
         "scaling_factor": 50.0, "seed": 1}


class Killed(KeyboardInterrupt):
    """Stands for a job killed after an epoch's checkpoint."""


@pytest.fixture(scope="module")
def voxel_set(tmp_path_factory):
    """A deepstorm3d patch set (12 px, 8 z voxels over -600:600) of an astigmatic movie."""
    from smlmscale.patches.run import make_patches
    from smlmscale.simulate import EmitterSettings, MovieSettings, simulate_movie
    from smlmscale.simulate.instrument import PsfSettings

    folder = tmp_path_factory.mktemp("ds3d")
    sim = simulate_movie(folder / "sim.zarr", settings=MovieSettings(
        frames=24, size_px=24, seed=4, emitters=EmitterSettings(density_per_um2=1.0),
        psf=PsfSettings(model="astigmatic")))
    make_patches(sim.path, folder / "ps.zarr", locs=sim.truth_path, kind="deepstorm3d",
                 settings={"patch_size_px": 12, "per_frame": 2, "z_voxels": 8}, chunk_patches=8)
    return folder / "ps.zarr"


def test_model_options_apply_to_the_models_that_read_them():
    settings = TrainSettings(model="deepstorm3d", dilation_max=4)
    assert settings.model_options() == {"dilation_max": 4, "scaling_factor": 800.0,
                                        "filters": 64}
    assert settings.loss_name == "deepstorm3d" and settings.scale == 1.0
    assert TrainSettings().model_options() == {}
    # --filters: deepstorm3d's and locnet's (each with its own default), no other model's
    assert TrainSettings(model="locnet").model_options() == {"filters": 24}
    assert TrainSettings(model="locnet", filters=32).model_options() == {"filters": 32}
    for given, message in [
        ({"dilation_max": 16}, "--dilation-max does not apply to --model deepstorm"),
        ({"model": "unet", "filters": 8}, "--filters does not apply to --model unet"),
        ({"model": "locnet", "scaling_factor": 800.0},
         "--scaling-factor does not apply to --model locnet"),
        ({"model": "deepstorm3d", "loss": "mse"}, "--loss mse does not train --model "
                                                 "deepstorm3d; leave out --loss, or pass "
                                                 "deepstorm3d"),
        ({"loss": "deepstorm3d"}, "--loss deepstorm3d does not train --model deepstorm"),
        ({"model": "deepstorm3d", "target_scale": 100.0},
         "--target-scale does not apply to --model deepstorm3d"),
        ({"model": "deepstorm3d", "dilation_max": 8}, "--dilation-max must be one of 4, 16"),
        ({"model": "deepstorm3d", "scaling_factor": 0.0}, "--scaling-factor must be"),
    ]:
        with pytest.raises(InputError, match=message):
            TrainSettings(**given)


def test_patch_sets_of_another_model_are_refused(voxel_set, tmp_path):
    from tests.train import numbered_patchset

    with pytest.raises(InputError, match="a deepstorm model trains on deepstorm or summed "
                                         "patches, but this patch set holds deepstorm3d") as info:
        prepare_train(voxel_set, tmp_path / "m")
    assert "--model deepstorm3d" in info.value.hint
    other = numbered_patchset(tmp_path / "ds.zarr", n=20, shape=(8, 8, 1))
    with pytest.raises(InputError, match="a deepstorm3d model trains on deepstorm3d patches, "
                                         "but this patch set holds deepstorm patches"):
        prepare_train(other.path, tmp_path / "m", given={"model": "deepstorm3d"})
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.partial").exists()


def test_deepstorm3d_trains_resumes_and_its_folder_reloads(voxel_set, tmp_path):
    ps = open_patchset(voxel_set)
    out = tmp_path / "m"

    def kill(done, epochs, logs):
        if done == 1:
            raise Killed

    with pytest.raises(Killed):
        train_model(voxel_set, out, given={**SMALL, "epochs": 3}, on_epoch=kill)
    assert (tmp_path / "m.partial").is_dir() and not out.exists()
    result = train_model(voxel_set, out, given={"epochs": 3}, resume=True)
    assert result.initial_epoch == 1 and result.epochs_run == 3
    assert np.isfinite(result.history["loss"]).all()
    meta = json.loads((out / md.META_FILE).read_text())
    assert meta["model"] == "deepstorm3d" and meta["generator"] == "deepstorm3d"
    assert meta["model_options"] == {"dilation_max": 4, "scaling_factor": 50.0, "filters": 4}
    assert meta["loss"] == {"name": "deepstorm3d", "upsampling": 4, "z_voxels": 8,
                            "z_range_nm": [-600.0, 600.0], "scaling_factor": 50.0}
    assert meta["generator_params"]["z_range_nm"] == [-600.0, 600.0]
    assert meta["target_scale"] == 1.0 and meta["upsampling"] == 4
    reloaded = md.load_keras_model(out, compile=True)
    x = ps.inputs[:3]
    out_grid = reloaded.predict(x, verbose=0)
    assert out_grid.shape == (3, 48, 48, 8) and out_grid.max() <= 50.0
    np.testing.assert_allclose(out_grid, result.model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-5)
    assert reloaded.loss.get_config()["scaling_factor"] == 50.0
