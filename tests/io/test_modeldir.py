"""Model folders, history.csv and the training curve, without training."""

from __future__ import annotations

import json

import matplotlib.image
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io import modeldir as md
from smlmscale.train.curve import plot_history
from smlmscale.train.history import append_history, prune_checkpoints, truncate_history


def test_read_model_json_refuses_what_is_not_a_model_folder(tmp_path):
    with pytest.raises(InputError, match="no such model folder"):
        md.read_model_json(tmp_path / "missing")
    with pytest.raises(InputError, match="no smlmscale.json"):
        md.read_model_json(tmp_path)
    (tmp_path / md.META_FILE).write_text("{not json")
    with pytest.raises(InputError, match="cannot be read"):
        md.read_model_json(tmp_path)
    (tmp_path / md.META_FILE).write_text(json.dumps({"kind": "patchset"}))
    with pytest.raises(InputError, match="does not describe a model"):
        md.read_model_json(tmp_path)
    assert not md.is_model_dir(tmp_path)
    md.write_json(tmp_path / md.META_FILE, {"kind": "model", "model": "counts",
                                            "training": {"monitor": "loss", "best_loss": 0.5}})
    assert md.is_model_dir(tmp_path)
    summary = md.describe_model(tmp_path)
    assert summary["model"] == "counts" and summary["best_loss"] == 0.5
    assert not list(tmp_path.glob("*.tmp-*"))


def test_load_keras_model_gives_one_clear_error_for_a_bad_file(tmp_path):
    with pytest.raises(InputError, match="model file not found"):
        md.load_keras_model(tmp_path)
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InputError, match="Keras cannot load") as info:
        md.load_keras_model(bad)
    assert "corrupt" in info.value.hint


def test_history_appends_with_a_stable_header_and_truncates_to_the_checkpoint(tmp_path):
    path = tmp_path / "history.csv"
    append_history(path, 1, {"loss": 2.0, "val_loss": 3.0, "seconds": 1.5})
    append_history(path, 2, {"val_loss": 2.5, "loss": 1.0, "seconds": 1.2, "extra": 9})
    append_history(path, 3, {"loss": 0.5, "val_loss": 2.0, "seconds": 1.0})
    table = pd.read_csv(path)
    assert table.columns.tolist() == ["epoch", "loss", "seconds", "val_loss"]
    assert table["loss"].tolist() == [2.0, 1.0, 0.5]
    truncate_history(path, 2)
    assert pd.read_csv(path)["epoch"].tolist() == [1, 2]
    truncate_history(tmp_path / "none.csv", 1)
    assert md.read_history(tmp_path / "nowhere").empty


def test_prune_checkpoints_keeps_the_latest(tmp_path):
    for epoch in (1, 2, 3, 10):
        (tmp_path / f"epoch_{epoch:04d}.keras").write_bytes(b"x")
    (tmp_path / "best.weights.h5").write_bytes(b"x")
    prune_checkpoints(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.weights.h5", "epoch_0003.keras", "epoch_0010.keras"]


@pytest.mark.parametrize("columns", [["loss", "val_loss", "learning_rate"], ["loss"]])
def test_plot_history_writes_a_png(tmp_path, columns):
    table = pd.DataFrame({"epoch": [1, 2, 3], "loss": [1.0, 0.5, 0.4],
                          "val_loss": [1.2, 0.6, 0.7], "learning_rate": [1e-3, 1e-3, 5e-4]})
    path = plot_history(table[["epoch", *columns]], tmp_path / "curve.png", best_epoch=2,
                        title="deepstorm")
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 300
    assert [p.name for p in tmp_path.iterdir()] == ["curve.png"]
