"""Whole pipelines: lazy graph = eager pipeline; store to store on a cluster; GPU = CPU."""

from __future__ import annotations

import os

import dask.array as da
import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.preprocess.base import Backend
from smlmscale.preprocess.parse import parse_steps
from smlmscale.preprocess.run import output_chunks, pipeline_graph, preprocess_store
from tests.preprocess import reference
from tests.helpers import requires_gpu
from tests.preprocess.helpers import make_store, random_movie
from tests.helpers import raise_if_dask_computes

pytestmark = pytest.mark.timeout(120)

ISSUE_PIPELINE = ("offset:100; background:min; blur:sigma=1.0; tophat:radius=3; "
                  "normalize:mode=global,subtract=0,divide=250")


def _eager_issue_pipeline(movie):
    out = reference.offset(movie, 100)
    out = reference.background(out)
    out = reference.blur(out, 1.0)
    out = reference.tophat(out, 3)
    return reference.normalize(out, "global", 0, 250)


def _eager_sections_pipeline(movie):
    return reference.blur(reference.saturate(movie, knee=0.7), 1.5)


def _eager_summing_pipeline(movie):
    return reference.sum_frames(reference.crop(reference.offset(movie, 100), y=(2, 35)), 4)


PIPELINES = {
    "issue": (ISSUE_PIPELINE, _eager_issue_pipeline),
    "sections": ("saturate:knee=0.7; blur:sigma=1.5", _eager_sections_pipeline),
    "summing": ("offset:100; crop:y=2:35; sum:4", _eager_summing_pipeline),
    "rolling": ("background:median,window=9; normalize:meanstd",
                lambda m: reference.normalize(reference.background(m, "median", 9), "meanstd")),
}


@pytest.mark.parametrize("chunks", [(5, 16, 16), (23, 37, 41), (4, 37, 7)])
@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_pipeline_equals_eager_pipeline(name, chunks):
    text, eager = PIPELINES[name]
    movie = random_movie(np.uint16)
    with raise_if_dask_computes():
        lazy = pipeline_graph(da.from_array(movie, chunks=chunks), parse_steps(text), Backend())
    want = eager(movie)
    got = lazy.compute(scheduler="threads")
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


def test_store_to_store_on_a_cluster(tmp_path, client):
    movie = random_movie(np.uint16)
    src = make_store(tmp_path / "in.zarr", movie, chunks=(5, 16, 16))
    out = tmp_path / "out.zarr"
    calls = []
    result = preprocess_store(src, out, steps=ISSUE_PIPELINE, client=client, command="cmd",
                              progress=lambda *a: calls.append(a))
    store = open_image_store(out)
    assert store.array.chunks == (5, 16, 16) and store.array.dtype == np.float32
    assert store.axes == "tyx" and store.pixel_size_nm == 107.0
    np.testing.assert_allclose(store.array[:], _eager_issue_pipeline(movie), rtol=1e-5,
                               atol=1e-5)
    assert result.shape == movie.shape and result.device == "cpu" and result.dtype == "float32"
    assert len(calls) == 5 * 3 * 3 and calls[-1][:2] == (45, 45)
    assert calls[-1][2] == result.bytes_written == movie.size * 4
    attrs = store.attrs
    assert [s["step"] for s in attrs["preprocess"]] == ["offset", "background", "blur",
                                                        "tophat", "normalize"]
    assert attrs["preprocess"][0] == {"step": "offset", "baseline": 100.0, "e_per_adu": None,
                                      "em_gain": 1.0, "qe": 1.0}
    assert attrs["command"] == "cmd" and attrs["device"] == "cpu" and attrs["kind"] == "movie"
    assert attrs["history"][0]["command"] == "smlmscale ingest x"
    assert attrs["input"] == os.path.abspath(src) and "completed" in attrs
    assert not os.path.exists(f"{out}.partial")


def test_summing_and_crop_rechunk_to_whole_output_chunks(tmp_path, client):
    movie = random_movie(np.uint16, shape=(61, 37, 41))
    src = make_store(tmp_path / "in.zarr", movie, chunks=(16, 37, 41), zarr_format=2)
    out = tmp_path / "sum.zarr"
    result = preprocess_store(src, out, steps="offset:100; crop:x=5:; sum:frames=4",
                              client=client, dtype="uint16")
    store = open_image_store(out)
    assert store.ngff_version == "0.4" and store.array.shape == (15, 37, 36)
    assert store.array.chunks == (4, 37, 36) == result.chunks
    want = reference.sum_frames(reference.offset(movie, 100)[:, :, 5:], 4)
    np.testing.assert_array_equal(store.array[:], np.clip(np.rint(want), 0, 65535))


def test_sections_stack_and_no_client(tmp_path):
    stack = random_movie(np.float32, shape=(6, 37, 41))
    src = make_store(tmp_path / "s.zarr", stack, chunks=(1, 37, 41), axes="zyx",
                     attrs={"kind": "sections"})
    result = preprocess_store(src, tmp_path / "o.zarr", steps="saturate:knee=0.7; blur:1.5",
                              client=None, dtype="float64")
    store = open_image_store(result.path)
    assert store.axes == "zyx" and store.array.dtype == np.float64
    assert store.attrs["kind"] == "sections"
    np.testing.assert_allclose(store.array[:], _eager_sections_pipeline(stack), rtol=1e-5)


def test_existing_output_is_refused_then_overwritten(tmp_path):
    src = make_store(tmp_path / "in.zarr", random_movie(np.uint16))
    out = tmp_path / "out.zarr"
    out.mkdir()
    with pytest.raises(InputError, match="output exists"):
        preprocess_store(src, out, steps="offset:100")
    preprocess_store(src, out, steps="offset:100", overwrite=True)
    assert open_image_store(out).array.shape == random_movie().shape


def test_steps_of_an_earlier_run_are_kept(tmp_path):
    src = make_store(tmp_path / "in.zarr", random_movie(np.uint16))
    preprocess_store(src, tmp_path / "a.zarr", steps="offset:100")
    preprocess_store(tmp_path / "a.zarr", tmp_path / "b.zarr", steps="blur")
    attrs = open_image_store(tmp_path / "b.zarr").attrs
    assert [s["step"] for s in attrs["preprocess"]] == ["offset", "blur"]
    assert len(attrs["history"]) == 2


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(steps="blur", dtype="complex64"), "unknown output dtype"),
    (dict(steps="blur", dtype="pixels"), "unknown output dtype"),
    (dict(steps="blur", device="tpu"), "unknown device 'tpu'"),
    (dict(steps="sum:frames=50"), "fewer than one bin"),
    (dict(steps="nope"), "unknown step 'nope'"),
])
def test_bad_arguments_are_input_errors(tmp_path, kwargs, fragment):
    src = make_store(tmp_path / "in.zarr", random_movie(np.uint16))
    with pytest.raises(InputError, match=fragment):
        preprocess_store(src, tmp_path / "out.zarr", **kwargs)
    assert not (tmp_path / "out.zarr").exists()


def test_input_must_be_a_3d_ome_zarr(tmp_path):
    with pytest.raises(InputError, match="no such Zarr store"):
        preprocess_store(tmp_path / "missing.zarr", tmp_path / "o.zarr", steps="blur")
    from smlmscale.io.ome_zarr import create_image_store

    create_image_store(tmp_path / "c.zarr", shape=(3, 8, 8), dtype="uint16", chunks=(1, 8, 8),
                       axes="cyx")
    create_image_store(tmp_path / "2d.zarr", shape=(8, 8), dtype="uint16", chunks=(8, 8),
                       axes="yx")
    for name, axes in (("c.zarr", "c,y,x"), ("2d.zarr", "y,x")):
        with pytest.raises(InputError, match=f"needs a 3-D image .*found axes {axes}"):
            preprocess_store(tmp_path / name, tmp_path / "o.zarr", steps="blur")


def test_output_chunks_follow_the_input_unless_an_axis_changed():
    out = da.zeros((15, 37, 36), chunks=((4, 4, 4, 3), (37,), (31, 5)))
    assert output_chunks((61, 37, 41), (16, 16, 16), out) == (4, 16, 31)
    same = da.zeros((61, 37, 41), chunks=(30, 37, 41))
    assert output_chunks((61, 37, 41), (16, 16, 64), same) == (16, 16, 41)


def test_gpu_without_a_gpu_is_an_input_error(tmp_path, monkeypatch):
    import smlmscale.runtime

    monkeypatch.setattr(smlmscale.runtime, "gpu_count", lambda: 0)
    src = make_store(tmp_path / "in.zarr", random_movie(np.uint16))
    with pytest.raises(InputError, match="no GPU found"):
        preprocess_store(src, tmp_path / "o.zarr", steps="blur", device="gpu")
    result = preprocess_store(src, tmp_path / "o.zarr", steps="blur", device="auto")
    assert result.device == "cpu"


@requires_gpu
@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_gpu_pipeline_equals_cpu_pipeline(name):
    movie = random_movie(np.uint16)
    steps = parse_steps(PIPELINES[name][0])
    cpu = pipeline_graph(da.from_array(movie, chunks=(5, 16, 16)), steps, Backend("cpu"))
    gpu = pipeline_graph(da.from_array(movie, chunks=(5, 16, 16)), steps, Backend("gpu"))
    got = gpu.compute(scheduler="threads")
    assert isinstance(got, np.ndarray)
    want = cpu.compute(scheduler="threads")
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))
