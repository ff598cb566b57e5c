"""prepare_train: every cheap check, nothing written, no TensorFlow; resume records."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from smlmscale.errors import InputError
from smlmscale.io.outputs import write_json
from smlmscale.train.prepare import prepare_train
from smlmscale.train.resume import RUN_FILE, compare_run, run_record
from smlmscale.train.settings import TrainSettings
from tests.train import numbered_patchset


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_plan_is_checked_without_writing_or_importing_tensorflow(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from smlmscale.train.prepare import prepare_train
        from tests.train import numbered_patchset
        ps = numbered_patchset(r"{tmp_path}/ps.zarr", n=64, chunk=16)
        plan = prepare_train(ps.path, r"{tmp_path}/m", given={{"epochs": 3, "batch_size": 8}},
                             command="train x")
        assert plan.settings.epochs == 3 and plan.settings.batch_size == 8
        assert plan.record["settings"]["epochs"] == 3 and plan.record["command"] == "train x"
        assert plan.record["patch_set"]["patches"] == 64 and plan.validation
        assert plan.stream.batch_size == 8 and plan.state.epochs_done == 0
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "imported"
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=str(Path(__file__).parents[2]))
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ps.zarr"]


def test_bad_runs_are_refused_before_anything_is_written(tmp_path):
    ps = numbered_patchset(tmp_path / "ps.zarr", n=64, chunk=16)
    fusion = numbered_patchset(tmp_path / "f.zarr", n=32, shape=(16, 64, 1), generator="fusion")
    odd = numbered_patchset(tmp_path / "odd.zarr", n=32, shape=(12, 12, 1))
    (tmp_path / "exists").mkdir()
    before = _listing(tmp_path)
    out = tmp_path / "m"
    cases = [
        (dict(resume=True, overwrite=True), ps.path, "exclude each other"),
        (dict(given={"lr": -1.0}), ps.path, "--lr must be a positive number"),
        (dict(given={"model": "counts"}), ps.path, "counts model trains on counts"),
        (dict(), fusion.path, "train --model unet"),
        (dict(), odd.path, "divisible by 8"),
        (dict(given={"memory_budget": 1000}), ps.path, "too small"),
        (dict(resume=True), ps.path, "nothing to resume: no interrupted run"),
    ]
    for kw, path, message in cases:
        with pytest.raises(InputError, match=message):
            prepare_train(path, out, **kw)
    with pytest.raises(InputError, match="output exists"):
        prepare_train(ps.path, tmp_path / "exists")
    with pytest.raises(InputError, match="the output's folder does not exist"):
        prepare_train(ps.path, tmp_path / "nowhere" / "m")
    assert _listing(tmp_path) == before


def test_resume_plans_take_the_stored_settings_and_compare_the_record(tmp_path):
    ps = numbered_patchset(tmp_path / "ps.zarr", n=64, chunk=16)
    other = numbered_patchset(tmp_path / "other.zarr", n=96, chunk=16)
    out, partial = tmp_path / "m", tmp_path / "m.partial"
    stored = TrainSettings(model="deepstorm", epochs=2, batch_size=8, seed=5)
    partial.mkdir()
    write_json(partial / RUN_FILE, run_record(stored, ps, command="train a", started="t0"))
    with pytest.raises(InputError, match="interrupted run left this"):
        prepare_train(ps.path, out)
    plan = prepare_train(ps.path, out, resume=True, given={"epochs": 6}, command="train b")
    assert plan.settings == stored.replace(epochs=6) and plan.resume
    assert plan.record["started"] == "t0" and plan.command == "train b"
    assert plan.state.epochs_done == 0 and plan.state.checkpoint is None
    with pytest.raises(InputError, match="--batch-size 16 differs from the interrupted run's 8"):
        prepare_train(ps.path, out, resume=True, given={"batch_size": 16})
    with pytest.raises(InputError, match="another patch set"):
        prepare_train(other.path, out, resume=True)
    (partial / "checkpoints").mkdir()
    (partial / "checkpoints" / "state.json").write_text(json.dumps(
        {"epochs_done": 1, "checkpoint": "epoch_0001.keras"}))
    with pytest.raises(InputError, match="checkpoint file is missing"):
        prepare_train(ps.path, out, resume=True)
    (partial / RUN_FILE).write_text("{broken")
    with pytest.raises(InputError, match="train.json cannot be read"):
        prepare_train(ps.path, out, resume=True)
    # compare_run is what staged_output runs on resume: only epochs may differ.
    record = run_record(stored, ps, command=None, started="t1")
    compare_run(run_record(stored.replace(epochs=9), ps, command="x", started="t0"), record)
    with pytest.raises(InputError, match="--seed 5 differs") as info:
        compare_run(run_record(stored.replace(seed=1), ps, command=None, started=""), record)
    assert info.value.param == "seed"
