"""Outputs appear only when complete, and nothing existing is lost."""

from __future__ import annotations

import pytest

from smlmscale.errors import InputError
from smlmscale.io.outputs import check_output, move_into_place, partial_path


def test_check_output_refuses_what_exists(tmp_path):
    out = tmp_path / "o.zarr"
    check_output(out)  # nothing there: fine
    out.mkdir()
    with pytest.raises(InputError, match="output exists.*--overwrite"):
        check_output(out)
    check_output(out, overwrite=True)
    with pytest.raises(InputError, match="folder does not exist"):
        check_output(tmp_path / "missing" / "o.zarr")
    (tmp_path / "f.zarr").write_text("a file")
    with pytest.raises(InputError, match="is a file"):
        check_output(tmp_path / "f.zarr", overwrite=True)


def test_interrupted_run_needs_resume_or_overwrite(tmp_path):
    out = tmp_path / "o.zarr"
    (tmp_path / "o.zarr.partial").mkdir()
    assert partial_path(out) == str(tmp_path / "o.zarr.partial")
    with pytest.raises(InputError, match="interrupted.*--resume"):
        check_output(out)
    check_output(out, resume=True)
    check_output(out, overwrite=True)


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_move_into_place_replaces_only_after(tmp_path, kind):
    final, partial = tmp_path / "out", tmp_path / "out.partial"
    if kind == "dir":
        final.mkdir()
        (final / "old").write_text("old")
        partial.mkdir()
        (partial / "new").write_text("new")
    else:
        final.write_text("old")
        partial.write_text("new")
    move_into_place(partial, final)
    assert not partial.exists()
    assert ((final / "new").read_text() if kind == "dir" else final.read_text()) == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# --- staged_output: the one way every stage writes --------------------------------------

import json  # noqa: E402

from smlmscale.io.outputs import (check_outputs, read_record, record_differences,  # noqa: E402
                                  staged_output, write_json)


def test_staged_folder_appears_only_when_complete(tmp_path):
    out = tmp_path / "o.zarr"
    with staged_output(out) as staged:
        assert staged.path == tmp_path / "o.zarr.partial" and staged.path.is_dir()
        (staged.path / "data").write_text("x")
        assert not out.exists()
    assert (out / "data").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.zarr"]


def test_staged_folder_removed_on_error_and_old_output_kept(tmp_path):
    out = tmp_path / "o.zarr"
    out.mkdir()
    (out / "old").write_text("old")
    with pytest.raises(RuntimeError):
        with staged_output(out, overwrite=True) as staged:
            (staged.path / "new").write_text("new")
            raise RuntimeError("killed")
    assert (out / "old").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.zarr"]


def test_staged_folder_replaces_only_with_overwrite(tmp_path):
    out = tmp_path / "o.zarr"
    out.mkdir()
    with pytest.raises(InputError, match="output exists"):
        with staged_output(out):
            pass  # pragma: no cover
    with staged_output(out, overwrite=True) as staged:
        (staged.path / "new").write_text("new")
    assert [p.name for p in out.iterdir()] == ["new"]


def test_resumable_run_keeps_its_partial_and_compares_the_record(tmp_path):
    out = tmp_path / "m"
    record = {"epochs": 2, "lr": 0.001}
    with pytest.raises(RuntimeError):
        with staged_output(out, record=record, record_name="train.json") as staged:
            (staged.path / "epoch_1").write_text("1")
            raise RuntimeError("killed")
    partial = tmp_path / "m.partial"
    assert read_record(partial / "train.json") == record
    with pytest.raises(InputError, match="interrupted run left this.*--resume"):
        with staged_output(out, record=record, record_name="train.json"):
            pass  # pragma: no cover
    with pytest.raises(InputError, match="cannot resume: the interrupted run had other lr"):
        with staged_output(out, resume=True, record={**record, "lr": 0.1},
                           record_name="train.json"):
            pass  # pragma: no cover
    with staged_output(out, resume=True, record={**record, "epochs": 5},
                       record_name="train.json", changeable=("epochs",)) as staged:
        assert staged.resumed and staged.stored == record
        assert (staged.path / "epoch_1").read_text() == "1"
    assert (out / "epoch_1").exists() and not partial.exists()


def test_resume_with_nothing_to_resume(tmp_path):
    with pytest.raises(InputError, match="nothing to resume"):
        with staged_output(tmp_path / "o", resume=True, record={}):
            pass  # pragma: no cover
    with staged_output(tmp_path / "o", resume=True, record={"a": 1},
                       optional_resume=True) as staged:
        assert not staged.resumed
    assert json.loads((tmp_path / "o" / "smlmscale-run.json").read_text()) == {"a": 1}


def test_custom_comparison_and_unreadable_record(tmp_path):
    partial = tmp_path / "o.partial"
    partial.mkdir()
    (partial / "smlmscale-run.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot be read"):
        with staged_output(tmp_path / "o", resume=True, record={}):
            pass  # pragma: no cover
    write_json(partial / "smlmscale-run.json", {"a": 1})

    def compare(stored, record):
        raise InputError(f"stored {stored['a']}, asked {record['a']}")

    with pytest.raises(InputError, match="stored 1, asked 2"):
        with staged_output(tmp_path / "o", resume=True, record={"a": 2}, compare=compare):
            pass  # pragma: no cover


def test_discard_interrupted_replaces_a_stale_partial(tmp_path):
    (tmp_path / "o.partial").mkdir()
    (tmp_path / "o.partial" / "stale").write_text("s")
    with staged_output(tmp_path / "o", discard_interrupted=True) as staged:
        assert not (staged.path / "stale").exists()
    assert (tmp_path / "o").is_dir()


def test_staged_file(tmp_path):
    out = tmp_path / "t.csv"
    with staged_output(out, kind="file") as staged:
        assert staged.path.parent == tmp_path and not staged.path.exists()
        staged.path.write_text("a")
        assert not out.exists()
    assert out.read_text() == "a"
    with pytest.raises(RuntimeError):
        with staged_output(out, kind="file", overwrite=True) as staged:
            staged.path.write_text("b")
            raise RuntimeError
    assert out.read_text() == "a"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]
    with pytest.raises(InputError, match="output exists"):
        with staged_output(out, kind="file"):
            pass  # pragma: no cover
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        check_outputs([tmp_path / "d"], overwrite=True)


def test_record_differences_leave_out_changeable():
    assert record_differences({"a": 1, "b": 2}, {"a": 2, "b": 3}, ("a",)) == ["b"]


def test_create_fills_the_empty_partial_before_the_record_and_drop_record(tmp_path):
    seen = []

    def create(path):
        seen.append(sorted(p.name for p in path.iterdir()))
        (path / "zarr.json").write_text("{}")

    out = tmp_path / "s.zarr"
    with staged_output(out, record={"a": 1}, create=create, drop_record=True) as staged:
        assert sorted(p.name for p in staged.path.iterdir()) == ["smlmscale-run.json",
                                                                  "zarr.json"]
    assert seen == [[]]
    assert [p.name for p in out.iterdir()] == ["zarr.json"]
