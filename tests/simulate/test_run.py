"""simulate_movie: the store, the truth, the TIFF series, determinism across runs, outputs."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.io.tables import read_table
from smlmscale.simulate import EmitterSettings, simulate_movie
from smlmscale.simulate.run import default_truth_path, output_stem
from tests.simulate.helpers import small_settings

pytestmark = pytest.mark.timeout(60)


def test_writes_store_and_truth(tmp_path):
    settings = small_settings(chunk_frames=16)
    result = simulate_movie(tmp_path / "sim.zarr", settings=settings, command="smlmscale test")
    store = open_image_store(tmp_path / "sim.zarr")
    assert store.axes == "tyx" and store.pixel_size_nm == 100.0
    assert store.array.shape == (40, 24, 24) and store.array.chunks == (16, 24, 24)
    assert store.attrs["kind"] == "simulation" and store.attrs["seed"] == 7
    assert store.attrs["settings"]["emitters"]["density_per_um2"] == 2.0
    assert store.attrs["truth"] == "sim_truth.parquet" and store.attrs["command"]
    assert not os.path.exists(f"{tmp_path / 'sim.zarr'}.partial")
    truth, meta = read_table(tmp_path / "sim_truth.parquet")
    assert len(truth) == result.n_emitters == result.n_detectable
    assert meta.pixel_size_nm == 100.0 and meta.image_shape == (24, 24) and meta.n_frames == 40
    assert truth["frame"].between(0, 39).all() and "emitter" in truth.columns
    assert result.bytes_written == 40 * 24 * 24 * 2 and result.emitters_per_frame > 5


def test_same_seed_same_outputs_with_a_cluster_and_other_chunks(tmp_path, client):
    settings = small_settings(size_px=(20, 28))
    a = simulate_movie(tmp_path / "a.zarr", settings=dataclasses.replace(settings, chunk_frames=7),
                       client=client)
    b = simulate_movie(tmp_path / "b.zarr", settings=dataclasses.replace(settings,
                                                                        chunk_frames=32))
    np.testing.assert_array_equal(open_image_store(a.path).array[:],
                                  open_image_store(b.path).array[:])
    ta, _ = read_table(a.truth_path)
    tb, _ = read_table(b.truth_path)
    pd.testing.assert_frame_equal(ta, tb)


def test_tiff_series_ingests_back_to_the_same_movie(tmp_path, client):
    from smlmscale.ingest import ingest_tiffs

    settings = small_settings(frames=50, pixel_size_nm=110.0, chunk_frames=8)
    result = simulate_movie(tmp_path / "sim.zarr", settings=settings, tiff=True,
                            tiff_frames_per_file=20, client=client)
    names = [os.path.basename(p) for p in result.tiff_paths]
    assert names == ["sim_MMStack_Pos0.ome.tif", "sim_MMStack_Pos0_1.ome.tif",
                     "sim_MMStack_Pos0_2.ome.tif"]
    assert sorted(os.listdir(tmp_path / "sim_tiff")) == sorted(names)
    back = ingest_tiffs([tmp_path / "sim_tiff"], tmp_path / "back.zarr", client=client)
    assert back.pixel_size_nm == pytest.approx(110.0) and back.shape == (50, 24, 24)
    np.testing.assert_array_equal(open_image_store(tmp_path / "back.zarr").array[:],
                                  open_image_store(result.path).array[:])


def test_refuses_existing_outputs_and_replaces_them_with_overwrite(tmp_path):
    settings = small_settings(frames=10)
    out = tmp_path / "sim.zarr"
    simulate_movie(out, settings=settings)
    with pytest.raises(InputError, match="output exists"):
        simulate_movie(out, settings=settings)
    with pytest.raises(InputError, match="truth table exists"):
        simulate_movie(tmp_path / "other.zarr", settings=settings,
                       truth_path=tmp_path / "sim_truth.parquet")
    again = simulate_movie(out, settings=dataclasses.replace(settings, seed=99), overwrite=True)
    assert open_image_store(out).attrs["seed"] == 99 and os.path.exists(again.truth_path)
    assert sorted(os.listdir(tmp_path)) == ["sim.zarr", "sim_truth.parquet"]


def test_output_checks(tmp_path):
    settings = small_settings(frames=4)
    with pytest.raises(InputError, match="folder does not exist"):
        simulate_movie(tmp_path / "missing" / "sim.zarr", settings=settings)
    with pytest.raises(InputError, match="written as Parquet"):
        simulate_movie(tmp_path / "sim.zarr", settings=settings, truth_path=tmp_path / "t.csv")
    (tmp_path / "sim_tiff").mkdir()
    with pytest.raises(InputError, match="TIFF output folder exists"):
        simulate_movie(tmp_path / "sim.zarr", settings=settings, tiff=True)
    (tmp_path / "x.zarr.partial").mkdir()  # not a simulation: left alone
    with pytest.raises(InputError, match="interrupted run"):
        simulate_movie(tmp_path / "x.zarr", settings=settings)
    assert output_stem("a/run.ome.zarr") == "run" and output_stem("b.zarr/") == "b"
    assert default_truth_path(tmp_path / "run.zarr") == tmp_path / "run_truth.parquet"


def test_a_failed_simulation_leaves_nothing_and_a_killed_one_is_replaced(tmp_path,
                                                                          monkeypatch):
    from smlmscale.simulate import run

    settings = small_settings(frames=10)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(run, "_write_truth", fail)
    with pytest.raises(RuntimeError):
        simulate_movie(tmp_path / "sim.zarr", settings=settings, tiff=True)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    with pytest.raises(InputError, match="no emitter was on"):
        simulate_movie(tmp_path / "empty.zarr", settings=small_settings(
            frames=1, size_px=2, emitters=EmitterSettings(density_per_um2=1e-3)))
    assert os.listdir(tmp_path) == []
    # What a killed run leaves: a simulation store in OUT.partial. The next run replaces it.
    simulate_movie(tmp_path / "old.zarr", settings=settings)
    os.rename(tmp_path / "old.zarr", tmp_path / "sim.zarr.partial")
    simulate_movie(tmp_path / "sim.zarr", settings=settings)
    assert not (tmp_path / "sim.zarr.partial").exists()
    assert open_image_store(tmp_path / "sim.zarr").array.shape == (10, 24, 24)


@pytest.mark.parametrize("changes, fragment", [
    ({"truth_path": "t.csv"}, "written as Parquet"),
    ({"tiff_frames_per_file": 0}, "--tiff-frames must be at least 1, got 0"),
    ({"output": "missing/sim.zarr"}, "folder does not exist"),
    ({"truth_path": "exists.parquet"}, "truth table exists"),
    ({"tiff": True}, "TIFF output folder exists"),
    ({"output": "foreign.zarr"}, "interrupted run of another command"),
    ({"settings": "frames: 10"}, "settings must be MovieSettings"),
])
def test_prepare_refuses_bad_input_and_writes_nothing(tmp_path, changes, fragment):
    from smlmscale.simulate import prepare_simulate

    (tmp_path / "exists.parquet").write_bytes(b"keep")
    (tmp_path / "sim_tiff").mkdir()
    (tmp_path / "foreign.zarr.partial").mkdir()
    before = sorted(os.listdir(tmp_path))
    arguments = {"output": "sim.zarr", "settings": small_settings(frames=4), **changes}
    for key in ("output", "truth_path"):
        if key in arguments:
            arguments[key] = tmp_path / arguments[key]
    output = arguments.pop("output")
    with pytest.raises(InputError, match=fragment):
        prepare_simulate(output, **arguments)
    assert sorted(os.listdir(tmp_path)) == before


def test_prepare_then_run_equals_simulate_movie(tmp_path):
    from smlmscale.simulate import prepare_simulate, run_simulate

    settings = small_settings(frames=12, chunk_frames=5)
    plan = prepare_simulate(tmp_path / "a.zarr", settings=settings, tiff=True)
    assert plan.truth_path == tmp_path / "a_truth.parquet"
    assert plan.tiff_folder == tmp_path / "a_tiff" and os.listdir(tmp_path) == []
    calls = []
    result = run_simulate(plan, progress=lambda *args: calls.append(args))
    again = simulate_movie(tmp_path / "b.zarr", settings=settings)
    np.testing.assert_array_equal(open_image_store(result.path).array[:],
                                  open_image_store(again.path).array[:])
    assert calls and calls[-1][0] == calls[-1][1] == 3
    assert sorted(os.listdir(tmp_path)) == ["a.zarr", "a_tiff", "a_truth.parquet", "b.zarr",
                                           "b_truth.parquet"]
