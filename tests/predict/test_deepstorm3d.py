"""deepstorm3d prediction: tiled and blocked equal whole-frame, the receptive field, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.tables import read_table
from smlmscale.kernels.normalize import normalize_patches
from smlmscale.localize.maxima3d import find_maxima_3d
from smlmscale.predict.deepstorm3d_block import predict_voxel_block, voxel_settings
from smlmscale.predict.model_cache import cached_predictor
from smlmscale.predict.plan import prepare_predict
from smlmscale.predict.run import grid_of, predict_movie
from smlmscale.predict.settings import PredictSettings

keras = pytest.importorskip("keras")

Z_RANGE, VOXELS, SCALE = [-400.0, 400.0], 5, 10.0


def voxel_folder(folder, *, seed=0, dilation_max=4):
    """An untrained deepstorm3d model folder as train writes it, its output spread over
    (0, scale) without reaching it (random weights; the output layer's set so)."""
    from smlmscale.io import modeldir as md
    from smlmscale.models.deepstorm3d import build_deepstorm3d

    keras.utils.set_random_seed(seed)
    model = build_deepstorm3d((16, 16, 1), z_voxels=VOXELS, scaling_factor=SCALE,
                              dilation_max=dilation_max, filters=6)
    layer = model.get_layer("voxels")
    kernel, bias = layer.get_weights()
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.5, kernel.shape).astype(np.float32), bias + 4.0])
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / md.MODEL_FILE)
    meta = {"kind": md.KIND, "model": "deepstorm3d", "input_shape": [16, 16, 1],
            "target_shape": [16, 16, 5], "upsampling": 4, "pixel_size_nm": 100.0,
            "normalization": {"mode": "frame"}, "generator": "deepstorm3d",
            "generator_params": {"z_range_nm": Z_RANGE, "z_voxels": VOXELS, "upsampling": 4},
            "target_scale": 1.0, "model_options": {"scaling_factor": SCALE,
                                                   "dilation_max": dilation_max, "filters": 6},
            "loss": {"name": "deepstorm3d", "scaling_factor": SCALE}}
    (folder / md.META_FILE).write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return voxel_folder(tmp_path_factory.mktemp("ds3d") / "m")


def _movie(path, frames=3, size=(19, 23), seed=1):
    """A random movie store of 100 nm pixels (the locnet tests' maker, smaller frames)."""
    from tests.predict.test_locnet import _movie as locnet_movie

    return locnet_movie(path, frames=frames, size=size, seed=seed)


def _eager(movie, folder, settings):
    """Whole-frame prediction the plain way: the model on each normalized frame, the 3D
    maxima of its whole voxel grid, positions in nm."""
    predictor = cached_predictor(folder)
    rows = []
    for t, frame in enumerate(normalize_patches(movie)):
        grid = predictor(frame[None, ..., None])[0]
        found = find_maxima_3d(grid, threshold=settings.threshold * SCALE,
                               radius=settings.radius)
        rows.append(pd.DataFrame({"frame": t, "x_nm": found.col * 25.0,
                                  "y_nm": found.row * 25.0,
                                  "z_nm": Z_RANGE[0] + found.slice * 800.0 / VOXELS,
                                  "confidence": found.peak / SCALE}))
    return pd.concat(rows, ignore_index=True)


def _same(table, reference):
    assert len(table) == len(reference) > 3
    for column in reference.columns:
        np.testing.assert_allclose(table[column].to_numpy(), reference[column].to_numpy(),
                                   rtol=1e-4, atol=1e-3)


def test_the_receptive_field_is_derived_through_the_upsampling(model):
    predictor = cached_predictor(model)
    assert predictor.upsamples == 4 and predictor.align == 1 and predictor.channels_out == 5
    # a pixel change reaches no output voxel farther than the radius (camera px)
    frame = np.random.default_rng(3).random((1, 48, 48, 1)).astype(np.float32)
    bumped = frame.copy()
    bumped[0, 24, 24] += 5.0
    changed = np.abs(predictor(bumped) - predictor(frame)).max(axis=(0, 3)) > 1e-6
    rows, cols = np.nonzero(changed)
    reach = max(np.abs(rows // 4 - 24).max(), np.abs(cols // 4 - 24).max())
    assert 0 < reach <= predictor.radius


@pytest.mark.parametrize("tile", [16, 36])
def test_tiles_cutting_the_frame_equal_the_whole_frame(model, tile):
    movie = np.random.default_rng(2).integers(100, 1500, size=(3, 19, 23))
    meta = json.loads((model / "smlmscale.json").read_text())
    settings = PredictSettings(threshold=0.3, radius=2, tile=tile, batch_size=5)
    kernel = voxel_settings(settings, meta, 25.0)
    assert kernel.scaling_factor == SCALE and kernel.z_voxels == VOXELS
    predictor = cached_predictor(model)
    grid = grid_of(predictor, movie.shape[1:], factor=4, extra=kernel.radius, tile=tile)
    assert grid.internal == 4 and grid.halo >= 4 * predictor.radius + 2
    assert len(grid.windows()) > 4
    table = predict_voxel_block(movie, 0, predictor, grid, kernel)
    assert list(table.columns) == ["frame", "x_nm", "y_nm", "z_nm", "confidence"]
    _same(table, _eager(movie, model, kernel))
    assert table.z_nm.between(*Z_RANGE).all() and table.confidence.between(0.3, 1).all()


def test_blocks_on_the_cluster_equal_the_whole_movie(model, tmp_path, client):
    movie = _movie(tmp_path / "movie.zarr", frames=5)
    settings = PredictSettings(threshold=0.3, radius=2, tile=40, frames_per_block=2)
    result = predict_movie(tmp_path / "movie.zarr", model, tmp_path / "locs.csv",
                           client=client, settings=settings, format="deepstorm3d")
    assert result.blocks == 3 and result.rows > 3
    header = (tmp_path / "locs.csv").read_text().splitlines()[0]
    assert header == "frame,x [nm],y [nm],z [nm],intensity [au]"
    table, _ = read_table(tmp_path / "locs.csv")
    reference = _eager(movie, model, voxel_settings(settings, json.loads(
        (model / "smlmscale.json").read_text()), 25.0))
    _same(table[list(reference.columns)], reference)


def test_the_default_radius_and_threshold_are_the_seeds(model):
    meta = json.loads((model / "smlmscale.json").read_text())
    kernel = voxel_settings(PredictSettings(), meta, 25.0)
    assert kernel.radius == 4 and kernel.threshold == 0.1


def test_bad_input_is_refused_before_anything_runs(model, tmp_path):
    _movie(tmp_path / "movie.zarr")
    with pytest.raises(InputError, match="--density-out is not for deepstorm3d models"):
        prepare_predict(tmp_path / "movie.zarr", model=model, output=tmp_path / "l.csv",
                        density_out=tmp_path / "d.zarr")
    with pytest.raises(InputError, match="--max-uncertainty needs a locnet model"):
        prepare_predict(tmp_path / "movie.zarr", model=model, output=tmp_path / "l.csv",
                        settings=PredictSettings(max_uncertainty_nm=20.0))
    meta = json.loads((model / "smlmscale.json").read_text())
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "smlmscale.json").write_text(json.dumps({
        **meta, "model": "deepstorm", "generator": "deepstorm", "input_shape": [32, 32, 1],
        "generator_params": {"z_bins": 0}}))
    with pytest.raises(InputError, match="the deepstorm3d format needs z, but this deepstorm "
                                         "model is 2D") as info:
        prepare_predict(tmp_path / "movie.zarr", model=flat, output=tmp_path / "l.csv",
                        format="deepstorm3d")
    assert "train a 3D model" in info.value.hint
    assert not list(tmp_path.glob("l.csv*"))
