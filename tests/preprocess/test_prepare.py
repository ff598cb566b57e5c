"""prepare_preprocess (every check, lazily, nothing written), the step records and their
parameters as settings."""

from __future__ import annotations

import os

import numpy as np
import pytest

from smlmscale.errors import InputError
from smlmscale.preprocess import base
from smlmscale.preprocess.base import Backend, resolve_backend
from smlmscale.preprocess.parse import POSITIONAL, parse_steps
from smlmscale.preprocess.registry import steps
from smlmscale.preprocess.run import PreprocessPlan, prepare_preprocess, run_preprocess
from tests.helpers import raise_if_dask_computes
from tests.preprocess.helpers import make_store, random_movie


def test_plan_is_checked_and_lazy(tmp_path):
    src = make_store(tmp_path / "in.zarr", random_movie(np.uint16))
    with raise_if_dask_computes():
        plan = prepare_preprocess(src, tmp_path / "out.zarr", steps="offset:100; sum:4",
                                  dtype="uint16", command="cmd")
    assert isinstance(plan, PreprocessPlan)
    assert plan.graph.shape == (5, 37, 41) and plan.chunks == (1, 16, 16)
    assert plan.dtype == np.uint16 and plan.backend == Backend("cpu")
    assert [step.name for step, _ in plan.steps] == ["offset", "sum"]
    assert not (tmp_path / "out.zarr").exists()
    result = run_preprocess(plan)
    assert result.shape == (5, 37, 41) and result.steps == "offset:baseline=100.0; sum:frames=4"


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(steps="blur", overwrite=False), "output exists"),
    (dict(steps="sum:frames=50", overwrite=True), "fewer than one bin"),
    (dict(steps="blur", dtype="pixels", overwrite=True), "unknown output dtype"),
    (dict(steps="blur", device="tpu", overwrite=True), "unknown device 'tpu'"),
])
def test_bad_plans_write_nothing(tmp_path, kwargs, fragment):
    src = make_store(tmp_path / "in.zarr", random_movie(np.uint16))
    (tmp_path / "out.zarr").mkdir()
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(InputError, match=fragment):
        prepare_preprocess(src, tmp_path / "out.zarr", **kwargs)
    assert sorted(os.listdir(tmp_path)) == before and not os.listdir(tmp_path / "out.zarr")


def test_every_step_is_one_record_and_its_params_round_trip():
    found = steps()
    assert POSITIONAL == {name: s.positional for name, s in found.items() if s.positional}
    assert {name for name, s in found.items() if s.halo_px} == {"blur", "tophat"}
    for (step, params), text in zip(parse_steps(
            "offset:100,e_per_adu=2; background:median,window=9; saturate:0.5; blur:2; "
            "tophat:4,footprint=square; normalize:meanstd,std=3; sum:5; crop:y=2:9"),
            found):
        assert step.name == text
        again = step.params.from_mapping(params.to_mapping())
        assert again == params and not again.diff(params)
    assert found["blur"].halo_px(found["blur"].params(sigma=2.0)) == 8
    assert found["tophat"].halo_px(found["tophat"].params(radius=3)) == 6


@pytest.mark.parametrize("make, message", [
    (lambda: steps()["background"].params.from_mapping({"mode": " Median "}), None),
    (lambda: steps()["tophat"].params(radius=4.0), None),
    (lambda: steps()["sum"].params(frames=2.5), "sum: frames must be a whole number, got 2.5"),
    (lambda: steps()["normalize"].params(mode="zscore"), "normalize: unknown mode 'zscore'"),
    (lambda: steps()["blur"].params(truncate=0), "blur: truncate must be > 0"),
    (lambda: steps()["saturate"].params(percentile=0), "saturate: percentile must be in (0, 100]"),
])
def test_params_read_values_as_steps_write_them(make, message):
    if message is None:
        params = make()
        assert getattr(params, "mode", "median") == "median"
        assert isinstance(getattr(params, "radius", 1), int)
        return
    with pytest.raises(InputError) as info:
        make()
    assert message in str(info.value)


def test_devices_are_records(monkeypatch):
    import smlmscale.runtime

    monkeypatch.setattr(smlmscale.runtime, "gpu_count", lambda: 0)
    assert resolve_backend("auto") == Backend("cpu") == resolve_backend(" CPU ")
    assert set(base.DEVICES) == {*base.DEVICE_TABLE, "auto"}
    cpu = Backend("cpu")
    assert cpu.xp is np and cpu.to_device(None) is None and cpu.to_host(None) is None
    with pytest.raises(InputError, match="no GPU found"):
        resolve_backend("gpu")
