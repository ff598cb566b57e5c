"""locnet trains on a frames patch set, streamed from Zarr, and its folder reloads."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from smlmscale.io import modeldir as md  # noqa: E402
from smlmscale.patches.patchset import open_patchset  # noqa: E402
from smlmscale.train.run import train_model  # noqa: E402
from smlmscale.train.settings import TrainSettings  # noqa: E402


@pytest.fixture(scope="module")
def frames_set(tmp_path_factory):
    """A frames patch set (16 px, K = 3) cut from a small simulated movie."""
    from smlmscale.patches.run import make_patches
    from smlmscale.patches.stacks import FramesSettings
    from smlmscale.simulate.run import simulate_movie
    from smlmscale.simulate.settings import EmitterSettings, MovieSettings

    folder = tmp_path_factory.mktemp("locnet")
    movie = MovieSettings(frames=60, size_px=32, seed=2,
                          emitters=EmitterSettings(density_per_um2=1.0))
    sim = simulate_movie(folder / "sim.zarr", settings=movie)
    make_patches(sim.path, folder / "frames.zarr", locs=sim.truth_path, kind="frames",
                 settings=FramesSettings(patch_size_px=16, per_frame=2, seed=2))
    return folder / "frames.zarr"


def test_locnet_trains_and_its_model_folder_reloads(frames_set, tmp_path):
    ps = open_patchset(frames_set)
    assert ps.inputs.shape[1:] == (16, 16, 3) and ps.targets.shape[1:] == (16, 16, 5)
    settings = TrainSettings(model="locnet", epochs=3, batch_size=8, seed=0)
    result = train_model(frames_set, tmp_path / "m", settings=settings)
    losses = result.history["loss"].to_numpy()
    assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
    meta = json.loads((tmp_path / "m" / md.META_FILE).read_text())
    assert meta["model"] == "locnet" and meta["generator"] == "frames"
    assert meta["loss"] == {"name": "locnet", "max_emitters": ps.attrs["max_emitters"]}
    assert meta["normalization"] == ps.attrs["normalization"]
    reloaded = md.load_keras_model(tmp_path / "m")
    x = ps.inputs[:4]
    out = reloaded.predict(x, verbose=0)
    assert out.shape == (4, 16, 16, 8)
    np.testing.assert_allclose(out, result.model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert meta["model_options"] == {"filters": 24}
    # fully convolutional: a whole 32 px frame stack goes through the trained model
    assert reloaded.predict(np.zeros((1, 32, 32, 3), np.float32), verbose=0).shape == \
        (1, 32, 32, 8)
