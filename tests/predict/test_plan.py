"""prepare_predict: every check before a cluster starts, nothing written; the settings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import create_image_store
from smlmscale.io.outputs import partial_path, staged_output
from smlmscale.predict.plan import prepare_predict
from smlmscale.predict.settings import PredictSettings, StackSettings
from smlmscale.settings import option_help


def _model(folder, **meta):
    """A model folder holding only its smlmscale.json (prepare never loads the model)."""
    folder.mkdir()
    record = {"kind": "model", "model": "deepstorm", "pixel_size_nm": 100.0, "upsampling": 4,
              "input_shape": [8, 8, 1], **meta}
    (folder / "smlmscale.json").write_text(json.dumps(record))
    return folder


@pytest.fixture()
def inputs(tmp_path):
    movie = tmp_path / "m.zarr"
    create_image_store(movie, shape=(10, 16, 16), dtype="uint16", chunks=(5, 16, 16),
                       pixel_size_nm=100.0)[:] = np.ones((10, 16, 16), np.uint16)
    return movie, _model(tmp_path / "model")


def _written(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir())


def test_a_movie_plan_holds_what_the_run_needs(inputs, tmp_path):
    movie, model = inputs
    plan = prepare_predict(movie, model=model, output=tmp_path / "l.parquet",
                           settings=PredictSettings(threshold=0.3), frames=(2, 50),
                           density_out=tmp_path / "d.zarr", command="smlmscale predict")
    assert plan.kind == "movie" and plan.frames == (2, 10) and plan.pixel_size_nm == 100.0
    assert plan.image_shape == (16, 16) and plan.settings.frames == (2, 50)
    assert plan.record["settings"]["threshold"] == 0.3 and plan.record["frames"] == [2, 10]
    assert plan.record["density"] == str(tmp_path / "d.zarr")
    assert plan.table_meta.extra["predicted_frames"] == [2, 10]  # evaluate scores these
    assert _written(tmp_path) == ["m.zarr", "model"]


@pytest.mark.parametrize("kwargs, words", [
    ({"resume": True, "overwrite": True}, "exclude each other"),
    ({"resume": True}, "nothing to resume"),
    ({"section_thickness_nm": 70.0}, "goes with --rois"),
    ({"rois": "rois.csv", "density_out": "d.zarr"}, "--density-out is for movies"),
    ({"rois": "rois.csv", "frames": (0, 4)}, "--frames is for movies"),
    ({"frames": (20, 30)}, "starts beyond"),
    ({"settings": PredictSettings(pixel_size_nm=None), "model_meta": {"model": "counts"}},
     "counts models predict section stacks"),
    ({"model_meta": {"pixel_size_nm": 160.0}}, "trained on 160 nm pixels"),
])
def test_prepare_refuses_bad_runs_and_writes_nothing(inputs, tmp_path, kwargs, words):
    movie, model = inputs
    meta = kwargs.pop("model_meta", None)
    if meta is not None:
        model = _model(tmp_path / "other", **meta)
    before = _written(tmp_path)
    with pytest.raises(InputError, match=words):
        prepare_predict(movie, model=model, output=tmp_path / "l.parquet", **kwargs)
    assert _written(tmp_path) == before


def test_prepare_refuses_existing_and_interrupted_outputs(inputs, tmp_path):
    movie, model = inputs
    (tmp_path / "l.parquet").write_text("keep")
    with pytest.raises(InputError, match="output exists"):
        prepare_predict(movie, model=model, output=tmp_path / "l.parquet")
    (tmp_path / "d.zarr").mkdir()
    with pytest.raises(InputError, match="choose another --density-out"):
        prepare_predict(movie, model=model, output=tmp_path / "n.parquet",
                        density_out=tmp_path / "d.zarr")
    (tmp_path / "o.parquet.partial").mkdir()
    with pytest.raises(InputError, match="interrupted run left this"):
        prepare_predict(movie, model=model, output=tmp_path / "o.parquet")
    plan = prepare_predict(movie, model=model, output=tmp_path / "o.parquet", resume=True)
    assert plan.resume and (tmp_path / "l.parquet").read_text() == "keep"


def test_a_section_plan_takes_threshold_batch_and_thickness(tmp_path):
    stack = tmp_path / "s.zarr"
    create_image_store(stack, shape=(3, 32, 32), dtype="uint16", chunks=(1, 32, 32),
                       axes="zyx", pixel_size_nm=100.0)
    model = _model(tmp_path / "model", model="counts", input_shape=[16, 16, 1])
    (tmp_path / "rois.csv").write_text("roi,section,x,y,size\n1,2,0,0,16\n0,0,8,8,16\n")
    plan = prepare_predict(stack, model=model, output=tmp_path / "p.parquet",
                           rois=tmp_path / "rois.csv", section_thickness_nm=70.0,
                           settings=PredictSettings(threshold=0.4, batch_size=2))
    assert plan.kind == "sections" and plan.section_thickness_nm == 70.0
    assert plan.settings == StackSettings(section_thickness_nm=70.0, min_count=0.4,
                                          batch_size=2)
    assert plan.rois["roi"].tolist() == [0, 1]  # by section
    with pytest.raises(InputError, match="--section-thickness must be a positive"):
        prepare_predict(stack, model=model, output=tmp_path / "p.parquet",
                        rois=tmp_path / "rois.csv", section_thickness_nm=-70.0)
    with pytest.raises(InputError, match="does not record its section thickness"):
        prepare_predict(stack, model=model, output=tmp_path / "p.parquet",
                        rois=tmp_path / "rois.csv")


def test_settings_round_trip_and_generated_help():
    for settings in (PredictSettings(tile=64, frames=(3, 9), pixel_size_nm=90.0),
                     StackSettings(section_thickness_nm=70.0, rois_per_task=4)):
        mapping = settings.to_mapping()
        assert type(settings).from_mapping(mapping) == settings
        assert json.loads(json.dumps(mapping)) == mapping
    assert PredictSettings().diff(PredictSettings(threshold=0.5)) == ["threshold"]
    assert option_help(PredictSettings, "tile") == "Tile core side, upsampled px [512]."
    assert option_help(PredictSettings, "frames").endswith("[all].")
    for kwargs, words in (({"tile": 4}, "--tile must be at least 8"),
                          ({"threshold": -1}, "--threshold must be a number >= 0"),
                          ({"confidence": "mean"}, "unknown confidence"),
                          ({"frames": (5, 3)}, "--frames must be FIRST:STOP")):
        with pytest.raises(InputError, match=words):
            PredictSettings(**kwargs)
    with pytest.raises(InputError, match="--threshold must be a number >= 0"):
        StackSettings(min_count=-1)
    with pytest.raises(InputError, match="unknown parameter"):
        PredictSettings.from_mapping({"tiles": 3})


def test_a_work_folder_is_resumable_and_removed_on_success(tmp_path):
    out = tmp_path / "t.csv"
    with pytest.raises(KeyboardInterrupt):
        with staged_output(out, kind="file", work_folder=True, record={"a": 1},
                           record_name="predict.json"):
            raise KeyboardInterrupt
    assert (tmp_path / "t.csv.partial" / "predict.json").is_file()
    with pytest.raises(InputError, match="interrupted run left this"):
        with staged_output(out, kind="file", work_folder=True, record={"a": 1}):
            pass
    with pytest.raises(InputError, match="other a"):
        with staged_output(out, kind="file", work_folder=True, resume=True, record={"a": 2},
                           record_name="predict.json"):
            pass
    with staged_output(out, kind="file", work_folder=True, resume=True, record={"a": 1},
                       record_name="predict.json") as staged:
        assert staged.resumed
        out.write_text("table")  # the block writes the file itself
    assert out.read_text() == "table" and not (tmp_path / "t.csv.partial").exists()
    assert partial_path(out) == str(tmp_path / "t.csv.partial")
