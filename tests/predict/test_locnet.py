"""locnet prediction: tiled and blocked equals whole-movie, the uncertainty cut, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import create_image_store
from smlmscale.io.tables import read_table
from smlmscale.predict.locnet_block import LOCNET_THRESHOLD, locnet_settings, \
    predict_locnet_block
from smlmscale.predict.model_cache import cached_predictor
from smlmscale.predict.plan import histogram_path, prepare_predict
from smlmscale.predict.run import predict_movie
from smlmscale.predict.settings import PredictSettings
from smlmscale.predict.tiles import make_grid

keras = pytest.importorskip("keras")

NORMALIZATION = {"mode": "affine", "offset_adu": 100.0, "scale_adu": 50.0,
                 "photons_per_adu": None}


def locnet_folder(folder, *, context=3, seed=0):
    """An untrained locnet (random weights) saved as a model folder, as train writes it."""
    from smlmscale.io import modeldir as md
    from smlmscale.models.locnet import build_locnet

    keras.utils.set_random_seed(seed)
    model = build_locnet((16, 16, context))
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / md.MODEL_FILE)
    meta = {"kind": md.KIND, "model": "locnet", "input_shape": [16, 16, context],
            "target_shape": [16, 16, 5], "upsampling": None, "pixel_size_nm": 100.0,
            "normalization": NORMALIZATION, "generator": "frames",
            "generator_params": {"context": context}, "target_scale": 1.0,
            "loss": {"name": "locnet"}}
    (folder / md.META_FILE).write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return locnet_folder(tmp_path_factory.mktemp("locnet") / "m")


def _movie(path, frames=7, size=(37, 41), seed=1):
    rng = np.random.default_rng(seed)
    movie = rng.integers(100, 1500, size=(frames, *size)).astype(np.uint16)
    create_image_store(path, shape=movie.shape, dtype=movie.dtype, chunks=(2, *size),
                       pixel_size_nm=100.0)[:] = movie
    return movie


def _whole(movie, model, settings=None, tile=10_000, start=0, stop=None, predictor=None):
    meta = json.loads((model / "smlmscale.json").read_text())
    predictor = predictor or cached_predictor(model)
    grid = make_grid(movie.shape[1:], factor=1, align=predictor.align,
                     radius=predictor.radius + 1, tile=tile)
    stop = len(movie) if stop is None else stop
    kernel = locnet_settings(settings or PredictSettings(), meta, 100.0)
    lo, hi = max(0, start - 1), min(len(movie), stop + 1)
    return predict_locnet_block(movie[lo:hi], start=start, stop=stop, n_frames=len(movie),
                                predict=predictor, grid=grid, settings=kernel,
                                channels=predictor.channels_out), grid


def _same(table, reference):
    assert len(table) == len(reference) > 0
    assert set(table.columns) >= set(reference.columns)
    for column in reference.columns:
        np.testing.assert_allclose(table[column].to_numpy(), reference[column].to_numpy(),
                                   rtol=1e-4, atol=1e-3)


def test_tiles_and_one_frame_blocks_equal_the_whole_movie(model, tmp_path):
    movie = _movie(tmp_path / "m.zarr")
    (whole, _), _ = _whole(movie, model)
    assert set(whole.columns) >= {"uncertainty_x_nm", "confidence"}
    assert (whole["confidence"] >= LOCNET_THRESHOLD).all()
    (tiled, _), grid = _whole(movie, model, tile=16)
    assert len(grid.windows()) > 4
    _same(tiled, whole)
    blocks = [_whole(movie, model, tile=16, start=t, stop=t + 1)[0][0]
              for t in range(len(movie))]
    _same(pd.concat(blocks, ignore_index=True), whole)


def test_cluster_prediction_equals_whole_movie_filters_and_resumes(client, model, tmp_path):
    movie = _movie(tmp_path / "m.zarr")
    (whole, _), _ = _whole(movie, model)
    out = tmp_path / "l.parquet"
    # float32 like the reference (auto may pick bfloat16 on this CPU: test_precision.py)
    settings = PredictSettings(tile=16, frames_per_block=2, precision="float32")
    result = predict_movie(tmp_path / "m.zarr", model, out, client=client, settings=settings)
    table, _ = read_table(out)
    _same(table.reset_index(drop=True), whole)
    assert result.histogram == histogram_path(out) and result.removed == 0
    assert (tmp_path / "l_uncertainty.png").stat().st_size > 0
    # the cut
    # halfway between two distinct values: no row sits on the cut within float32 noise
    values = np.unique(whole["uncertainty_x_nm"])
    cut = float(values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
    out2 = tmp_path / "cut.parquet"
    result = predict_movie(tmp_path / "m.zarr", model, out2, client=client,
                           settings=settings.replace(max_uncertainty_nm=cut))
    kept, _ = read_table(out2)
    expected = whole[(whole["uncertainty_x_nm"] <= cut) & (whole["uncertainty_y_nm"] <= cut)]
    _same(kept.reset_index(drop=True), expected.reset_index(drop=True))
    assert result.removed == len(whole) - len(expected) > 0
    # histogram exists: refused without --overwrite, before anything runs
    with pytest.raises(InputError, match="exists"):
        prepare_predict(tmp_path / "m.zarr", model=model, output=tmp_path / "cut.csv",
                        settings=settings)


def test_resume_keeps_the_blocks_done_and_compares_the_cut(client, model, tmp_path):
    movie = _movie(tmp_path / "m.zarr")
    (whole, _), _ = _whole(movie, model)
    settings = PredictSettings(tile=16, frames_per_block=3, max_uncertainty_nm=1e6,
                               precision="float32")
    out = tmp_path / "r.parquet"

    def stop_after_one(done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_movie(tmp_path / "m.zarr", model, out, client=client, settings=settings,
                      progress=stop_after_one)
    assert (tmp_path / "r.parquet.partial").is_dir() and not out.exists()
    with pytest.raises(InputError, match="other settings"):
        predict_movie(tmp_path / "m.zarr", model, out, client=client, resume=True,
                      settings=settings.replace(max_uncertainty_nm=5.0))
    result = predict_movie(tmp_path / "m.zarr", model, out, client=client, settings=settings,
                           resume=True)
    assert result.blocks == 3 and result.blocks_resumed >= 1 and result.removed == 0
    _same(read_table(out)[0].reset_index(drop=True), whole)


def test_bad_input_is_refused_before_anything_runs(model, tmp_path):
    _movie(tmp_path / "short.zarr", frames=2)
    with pytest.raises(InputError, match="only 2") as err:
        prepare_predict(tmp_path / "short.zarr", model=model, output=tmp_path / "l.parquet")
    assert err.value.param == "context"
    _movie(tmp_path / "m.zarr")
    for kwargs, flag in (({"density_out": tmp_path / "d.zarr"}, "--density-out"),
                         ({"rois": tmp_path / "r.csv"}, "--rois")):
        with pytest.raises(InputError, match=flag):
            prepare_predict(tmp_path / "m.zarr", model=model, output=tmp_path / "l.parquet",
                            **kwargs)
    assert not list(tmp_path.glob("l*"))


def test_threshold_not_given_takes_the_model_kinds_default_and_a_given_one_is_kept():
    from smlmscale.predict.locnet_block import LOCNET_THRESHOLD, locnet_settings
    from smlmscale.predict.settings import DEEPSTORM_THRESHOLD, PredictSettings, block_settings

    meta = {"input_shape": [16, 16, 3], "target_shape": [16, 16, 5],
            "normalization": {"offset_adu": 100.0, "scale_adu": 50.0}}
    assert locnet_settings(PredictSettings(), meta, 100.0).threshold == LOCNET_THRESHOLD
    assert locnet_settings(PredictSettings(threshold=0.1), meta, 100.0).threshold == 0.1
    assert block_settings(PredictSettings(), {}, 25.0).threshold == DEEPSTORM_THRESHOLD


def test_shared_frame_features_equal_the_whole_model(model, tmp_path):
    """The split path (each frame's features once) gives the whole model's table."""
    movie = _movie(tmp_path / "m.zarr", frames=6)
    predictor = cached_predictor(model)
    from smlmscale.models.locnet import DEFAULT_FILTERS

    assert predictor.split is not None and predictor.split.features == DEFAULT_FILTERS
    meta = json.loads((model / "smlmscale.json").read_text())
    kernel = locnet_settings(PredictSettings(), meta, 100.0)
    grid = make_grid(movie.shape[1:], factor=1, align=predictor.align,
                     radius=predictor.radius + 1, tile=16)
    common = dict(start=0, stop=len(movie), n_frames=len(movie), predict=predictor,
                  grid=grid, settings=kernel, channels=predictor.channels_out)
    split, _ = predict_locnet_block(movie, split=predictor.split, **common)
    whole, _ = predict_locnet_block(movie, split=None, **common)
    _same(split, whole)


def test_a_one_frame_model_has_no_halves(tmp_path):
    assert cached_predictor(locnet_folder(tmp_path / "k1", context=1)).split is None
