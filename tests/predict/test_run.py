"""predict_movie: equals the in-process kernel, resumes, survives a killed worker, bad input."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import create_image_store
from smlmscale.io.tables import read_table
from smlmscale.predict.block import predict_block
from smlmscale.predict.model_cache import cached_predictor
from smlmscale.predict.run import predict_movie
from smlmscale.predict.settings import PredictSettings, block_settings
from smlmscale.predict.tiles import make_grid
from tests.predict import tiny_model

pytest.importorskip("keras")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model"))


def _movie(path, frames=14, size=(22, 26), pixel=100.0, seed=0):
    rng = np.random.default_rng(seed)
    movie = rng.integers(100, 2000, size=(frames, *size)).astype(np.uint16)
    create_image_store(path, shape=movie.shape, dtype=movie.dtype, chunks=(4, *size),
                       pixel_size_nm=pixel)[:] = movie
    return movie


def _reference(movie, model, settings, first=0):
    """In-process, one tile per frame (the whole frame), no cluster."""
    meta = json.loads((model / "smlmscale.json").read_text())
    predictor = cached_predictor(model)
    grid = make_grid(movie.shape[1:], factor=4, align=predictor.align,
                     radius=predictor.radius, tile=10_000)
    assert len(grid.windows()) == 1
    return predict_block(movie, first, predictor, grid, block_settings(settings, meta, 25.0),
                         channels=predictor.channels_out)


def _same(table, reference):
    assert len(table) == len(reference) > 0
    for column in ("frame", "x_nm", "y_nm", "confidence"):
        np.testing.assert_allclose(table[column].to_numpy(), reference[column].to_numpy(),
                                   rtol=1e-4, atol=1e-3)


def test_tiled_distributed_prediction_equals_whole_frames_in_process(client, model, tmp_path):
    movie = _movie(tmp_path / "m.zarr")
    settings = PredictSettings(tile=32, frames_per_block=5, threshold=0.0)
    seen = []
    result = predict_movie(tmp_path / "m.zarr", model, tmp_path / "locs.parquet",
                           client=client, settings=settings, density_out=tmp_path / "d.zarr",
                           progress=lambda done, total: seen.append((done, total)))
    assert result.blocks == 3 and seen[-1] == (3, 3) and result.frames == 14
    table, meta = read_table(tmp_path / "locs.parquet")
    _same(table, _reference(movie, model, settings))
    assert meta.pixel_size_nm == 100.0 and result.rows == len(table)
    assert not (tmp_path / "locs.parquet.partial").exists()
    from smlmscale.io.ome_zarr import open_image_store

    density = open_image_store(tmp_path / "d.zarr")
    assert density.array.shape == (14, 88, 104) and density.pixel_size_nm == 25.0
    _registered(tmp_path / "d.zarr", first=0)
    csv = predict_movie(tmp_path / "m.zarr", model, tmp_path / "part.csv", client=client,
                        settings=PredictSettings(tile=32, threshold=0.0, frames=(3, 9)))
    part, _ = read_table(tmp_path / "part.csv")
    assert csv.frames == 6 and part["frame"].between(3, 8).all()
    _same(part, _reference(movie[3:9], model, settings, first=3))


def _registered(path, *, first):
    """napari's view of the density (ome-zarr-py's reader): 25 nm pixels whose centres sit
    -37.5 nm from the 100 nm movie's, frame ``first`` at t = first, the final name."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    image = list(Reader(parse_url(str(path)))())[0]
    scale, shift = image.metadata["coordinateTransformations"][0]
    assert scale["scale"] == [1.0, 25.0, 25.0]
    assert shift["translation"] == [float(first), -37.5, -37.5]
    assert image.metadata["name"] == path.name


def test_resume_predicts_only_missing_blocks(client, model, tmp_path):
    movie = _movie(tmp_path / "m.zarr", frames=12)
    settings = PredictSettings(frames_per_block=4, threshold=0.0)

    def stop_after_one(done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_movie(tmp_path / "m.zarr", model, tmp_path / "l.parquet", client=client,
                      settings=settings, progress=stop_after_one)
    assert (tmp_path / "l.parquet.partial").is_dir() and not (tmp_path / "l.parquet").exists()
    with pytest.raises(InputError, match="interrupted run left this"):
        predict_movie(tmp_path / "m.zarr", model, tmp_path / "l.parquet", client=client,
                      settings=settings)
    with pytest.raises(InputError, match="other settings"):
        predict_movie(tmp_path / "m.zarr", model, tmp_path / "l.parquet", client=client,
                      settings=PredictSettings(frames_per_block=4, threshold=0.5), resume=True)
    result = predict_movie(tmp_path / "m.zarr", model, tmp_path / "l.parquet", client=client,
                           settings=settings, resume=True)
    assert result.blocks == 3 and result.blocks_resumed >= 1
    _same(read_table(tmp_path / "l.parquet")[0], _reference(movie, model, settings))


def test_bad_input_is_refused_before_any_output(client, model, tmp_path):
    _movie(tmp_path / "m.zarr")
    _movie(tmp_path / "coarse.zarr", pixel=160.0)
    out = tmp_path / "o.parquet"
    with pytest.raises(InputError, match="no such model folder|no smlmscale.json"):
        predict_movie(tmp_path / "m.zarr", tmp_path, out, client=client)
    with pytest.raises(InputError, match="160 nm but the model was trained on 100 nm"):
        predict_movie(tmp_path / "coarse.zarr", model, out, client=client)
    with pytest.raises(InputError, match="starts beyond"):
        predict_movie(tmp_path / "m.zarr", model, out, client=client,
                      settings=PredictSettings(frames=(50, 60)))
    with pytest.raises(InputError, match="--threshold must be a number >= 0"):
        PredictSettings(threshold=-0.1)
    create_image_store(tmp_path / "empty.zarr", shape=(0, 8, 8), dtype="uint16",
                       chunks=(1, 8, 8), pixel_size_nm=100.0)
    with pytest.raises(InputError, match="no frames"):
        predict_movie(tmp_path / "empty.zarr", model, out, client=client)
    out.write_text("keep")
    with pytest.raises(InputError, match="exists"):
        predict_movie(tmp_path / "m.zarr", model, out, client=client)
    assert out.read_text() == "keep"
    assert not list(tmp_path.glob("*.partial"))


def test_a_killed_worker_costs_only_its_tasks(model, tmp_path):
    from distributed import Client, LocalCluster

    movie = _movie(tmp_path / "m.zarr", frames=40)
    settings = PredictSettings(frames_per_block=2, threshold=0.0)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        parts = tmp_path / "l.parquet.partial" / "parts"
        killed = []

        def kill_one():
            while not (parts.exists() and len(list(parts.glob("frames_*"))) >= 3):
                time.sleep(0.05)
            os.kill(pids[0], signal.SIGKILL)
            killed.append(len(list(parts.glob("frames_*"))))

        thread = threading.Thread(target=kill_one, daemon=True)
        thread.start()
        result = predict_movie(tmp_path / "m.zarr", model, tmp_path / "l.parquet",
                               client=client, settings=settings)
        thread.join(timeout=60)
    assert killed and killed[0] < 20, "the worker was killed before the run ended"
    assert result.blocks == 20
    _same(read_table(tmp_path / "l.parquet")[0], _reference(movie, model, settings))
