"""``train --model deepstorm3d --learn-mask``: the imaging layer against the NumPy PSF, its
gradient reaching the mask, and a short run through the CLI whose mask and PSF file are
usable by ``psf`` and ``simulate``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from smlmscale.cli import app
from tests.cli.helpers import assert_fails_with_one_line
from tests.simulate.helpers import tiny_bead_file, tiny_psf_file

tf = pytest.importorskip("tensorflow")


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _maps(points, n_frames=2, size=32):
    """Sparse emitter maps ``(n, size, size, 5)`` of ``(frame, row, col, dx, dy, z, photons)``."""
    maps = np.zeros((n_frames, size, size, 5), np.float32)
    for frame, row, col, dx, dy, z, photons in points:
        maps[frame, row, col] = [1, photons, dx, dy, z]
    return maps


POINTS = [(0, 5, 7, 0.2, -0.3, 300.0, 1000.0), (0, 20, 25, -0.4, 0.1, 1600.0, 2000.0),
          (1, 16, 16, 0.0, 0.0, 900.0, 500.0)]


@pytest.fixture(scope="module")
def psf_file(tmp_path_factory):
    return tiny_psf_file(tmp_path_factory.mktemp("maskpsf") / "tetrapod.psf.zarr")


def _layer(psf_file, **kw):
    from smlmscale.models.mask_imaging import PhaseMaskImaging
    from smlmscale.psf import load_psf

    model = load_psf(psf_file)
    layer = PhaseMaskImaging(model.optics.to_mapping(), initial_mask=model.mask_phase, **kw)
    return model, layer


def test_the_layer_images_emitters_as_the_numpy_psf_renders_them(psf_file):
    model, layer = _layer(psf_file, background_photons=(0, 0), read_noise_photons=0)
    maps = _maps(POINTS)
    layer.build(maps.shape)
    got = layer.expected(maps).numpy()
    for frame in (0, 1):
        mine = [p for p in POINTS if p[0] == frame]
        x = np.array([p[2] + 0.5 + p[3] for p in mine])
        y = np.array([p[1] + 0.5 + p[4] for p in mine])
        # a window of 65 px covers the 32 px frame from any emitter inside it
        ref = model.render(x, y, np.array([p[5] for p in mine]), np.array([p[6] for p in mine]),
                           shape=(32, 32), size_px=65)
        np.testing.assert_allclose(got[frame], ref, atol=1e-4 * ref.max())
    # the frames are projected to [0, 1]; noise only in training
    frames = layer(maps, training=False).numpy()
    assert frames.shape == (2, 32, 32, 1)
    assert frames.min() == 0.0 and np.isclose(frames.max(), 1.0)
    assert not np.allclose(layer(maps, training=True).numpy(), frames)


def test_the_gradient_reaches_the_mask_inside_the_pupil_only(psf_file):
    _, layer = _layer(psf_file)
    maps = _maps(POINTS)
    layer.build(maps.shape)
    weights = tf.constant(np.random.default_rng(0).normal(size=(2, 32, 32, 1)), tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(maps, training=True) * weights)
    grad = tape.gradient(loss, layer.mask).numpy()
    inside = layer.grid.amplitude > 0
    assert np.isfinite(grad).all() and np.abs(grad[inside]).max() > 0
    assert np.abs(grad[~inside]).max() == 0


def test_frames_too_large_for_the_pupil_grid_are_refused(psf_file):
    from smlmscale.errors import InputError

    _, layer = _layer(psf_file)
    with pytest.raises(InputError, match="at most 50 px across"):
        layer.build((1, 64, 64, 5))


@pytest.fixture(scope="module")
def patches(tmp_path_factory, psf_file):
    """A deepstorm3d patch set of a tetrapod movie simulated from the PSF file."""
    folder = tmp_path_factory.mktemp("masklearn")
    result = _invoke("simulate", "-o", folder / "sim.zarr", "--psf", psf_file,
                     "--emitters-per-frame", 1, 4, "--frames", 12, "--size", 20, "--seed", 2)
    assert result.exit_code == 0, result.stderr
    result = _invoke("patches", folder / "sim.zarr", "--locs", folder / "sim_truth.parquet",
                     "-o", folder / "train3d.zarr", "--kind", "deepstorm3d", "--z-voxels", 4,
                     "--patch-size", 16, "--upsampling", 2)
    assert result.exit_code == 0, result.stderr
    return folder / "train3d.zarr"


def test_a_learn_mask_run_saves_the_cnn_the_mask_and_its_psf_file(patches, psf_file, tmp_path):
    from smlmscale.io.modeldir import load_keras_model
    from smlmscale.psf import load_psf

    out = tmp_path / "mask3d"
    result = _invoke("train", patches, "-o", out, "--model", "deepstorm3d", "--learn-mask",
                     "--psf", psf_file, "--dilation-max", 4, "--filters", 4,
                     "--scaling-factor", 20, "--batch-size", 4, "--epochs", 2, "--lr", 0.05)
    assert result.exit_code == 0, result.stderr
    assert "learned_mask.npy" in result.stderr
    meta = json.loads((out / "smlmscale.json").read_text())
    assert meta["mask_learning"]["psf"] == psf_file
    assert meta["mask_learning"]["physics"].startswith("simulation ")
    cnn = load_keras_model(out)
    assert cnn.name == "deepstorm3d" and tuple(cnn.input_shape) == (None, 16, 16, 1)
    start = load_psf(psf_file).mask_phase
    mask = np.load(out / "learned_mask.npy")
    assert mask.shape == start.shape and not np.allclose(mask, start)
    # the checkpoint a --resume continues from holds the learner, mask included
    checkpoint = sorted((out / "checkpoints").glob("*.keras"))[-1]
    learner = load_keras_model(checkpoint, compile=True)
    np.testing.assert_allclose(learner.get_layer("phase_mask_imaging").mask.numpy(), mask,
                               rtol=1e-6)
    learned = load_psf(out / "learned.psf.zarr")
    np.testing.assert_allclose(learned.mask_phase, mask)
    assert learned.z_range_nm == load_psf(psf_file).z_range_nm
    # psf takes the mask with the same optics, simulate the PSF file
    again = tmp_path / "again.psf.zarr"
    result = _invoke("psf", "-o", again, "--mask", out / "learned_mask.npy", "--slm-pixel", 60,
                     "--pixel-size", 110, "--z-range", 0, 2000, "--z-step", 500, "--size", 15)
    assert result.exit_code == 0, result.stderr
    np.testing.assert_allclose(load_psf(again).mask_phase, mask)
    result = _invoke("simulate", "-o", tmp_path / "learned.zarr", "--psf",
                     out / "learned.psf.zarr", "--frames", 2, "--size", 16)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("options, fragments", [
    (["--learn-mask"], ["--learn-mask needs --psf FILE"]),
    (["--psf", "{psf}"], ["--psf applies to --learn-mask only"]),
    (["--learn-mask", "--psf", "{bead}"], ["needs a pupil PSF file", "bead"]),
    (["--learn-mask", "--psf", "{tmp}/missing.psf.zarr"], ["missing.psf.zarr"]),
])
def test_bad_mask_learning_input_fails_with_one_line(patches, psf_file, tmp_path, options,
                                                     fragments):
    bead = tiny_bead_file(tmp_path / "bead.psf.zarr")
    options = [o.format(psf=psf_file, bead=bead, tmp=tmp_path) for o in options]
    result = _invoke("train", patches, "-o", tmp_path / "m", "--model", "deepstorm3d", *options)
    assert_fails_with_one_line(result, *fragments)
    assert not (tmp_path / "m").exists()


def test_learn_mask_applies_to_deepstorm3d_only(patches, psf_file, tmp_path):
    result = _invoke("train", patches, "-o", tmp_path / "m", "--model", "deepstorm",
                     "--learn-mask", "--psf", psf_file)
    assert_fails_with_one_line(result, "--learn-mask applies to --model deepstorm3d")


def test_a_psf_file_that_does_not_cover_the_patch_sets_z_is_refused(patches, tmp_path):
    from smlmscale.psf import MaskSettings, OpticsSettings, PsfGridSettings, make_pupil_psf

    narrow = tmp_path / "narrow.psf.zarr"
    make_pupil_psf(narrow, optics=OpticsSettings(slm_pixel_um=60, pixel_size_nm=110),
                   grid=PsfGridSettings(z_range_nm=(500, 1000), z_step_nm=250, size_px=15),
                   mask=MaskSettings(builtin="tetrapod"))
    result = _invoke("train", patches, "-o", tmp_path / "m", "--model", "deepstorm3d",
                     "--learn-mask", "--psf", narrow)
    assert_fails_with_one_line(result, "outside the PSF file's 500..1000 nm")
