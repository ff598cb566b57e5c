"""predict_sections: counts models on section stacks -> 3D points; resume; bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.ome_zarr import open_image_store
from smlmscale.io.tables import read_table
from smlmscale.io.rois import read_rois
from smlmscale.predict.model_cache import cached_predictor
from smlmscale.predict.run_sections import StackSettings, predict_sections, tile_settings
from smlmscale.predict.sections import predict_tiles, read_tiles

pytest.importorskip("keras")


@pytest.fixture()
def counts(counts_model):
    return counts_model


def _reference_counts(sim, model, settings):
    """Predicted counts of every ROI tile, in process, the whole list in one batch."""
    meta = json.loads((model / "smlmscale.json").read_text())
    rois = read_rois(sim["rois_path"]).sort_values(["section", "roi"], kind="stable")
    array = open_image_store(sim["path"]).array
    tiles = np.stack([np.asarray(array[r.section, r.y:r.y + r.size, r.x:r.x + r.size])
                      for r in rois.itertuples()])
    np.testing.assert_array_equal(read_tiles(array, rois.reset_index(drop=True)), tiles)
    kernel = tile_settings(meta, settings, 155.0, 70.0)
    return rois, predict_tiles(tiles, cached_predictor(model), kernel)


def test_points_conserve_the_predicted_counts_of_every_tile(client, counts, tmp_path):
    sim, model = counts
    settings = StackSettings(rois_per_task=3, min_count=0.2)
    result = predict_sections(sim["path"], model, tmp_path / "p.parquet", rois=sim["rois_path"],
                              client=client, settings=settings)
    table = read_table(tmp_path / "p.parquet")[0]
    rois, predicted = _reference_counts(sim, model, settings)
    assert result.points == len(table) > 0 and result.tiles == len(rois)
    assert result.tasks == -(-len(rois) // 3)
    kept = np.where(predicted >= 0.2, predicted, 0).sum(axis=(1, 2))
    per_roi = table.groupby("roi").size().reindex(rois["roi"], fill_value=0)
    np.testing.assert_array_equal(per_roi.to_numpy(), np.rint(kept).astype(int))
    # every point lies in its ROI tile, at its section's mid-plane
    merged = table.merge(rois, on="roi", suffixes=("", "_roi"))
    col, row = merged.x_nm / 155.0, merged.y_nm / 155.0
    assert ((col >= merged.x) & (col < merged.x + merged["size"])).all()
    assert ((row >= merged.y) & (row < merged.y + merged["size"])).all()
    assert (merged.section == merged.section_roi).all()
    np.testing.assert_allclose(merged.z_nm, (merged.section + 0.5) * 70.0)


def test_resume_predicts_only_missing_groups(client, counts, tmp_path):
    sim, model = counts
    settings = StackSettings(rois_per_task=4)
    first = tmp_path / "a.parquet"
    predict_sections(sim["path"], model, first, rois=sim["rois_path"], client=client,
                     settings=settings)
    out = tmp_path / "b.parquet"
    partial = tmp_path / "b.parquet.partial"
    with pytest.raises(KeyboardInterrupt):
        def interrupted(done, total):
            if done >= 1:
                raise KeyboardInterrupt
        predict_sections(sim["path"], model, out, rois=sim["rois_path"], client=client,
                         settings=settings, progress=interrupted)
    assert partial.exists() and not out.exists()
    result = predict_sections(sim["path"], model, out, rois=sim["rois_path"], client=client,
                              settings=settings, resume=True)
    assert result.tasks_resumed >= 1 and not partial.exists()
    pd.testing.assert_frame_equal(read_table(out)[0], read_table(first)[0])


def _rewritten_rois(sim, tmp_path, **change):
    rois = read_rois(sim["rois_path"])
    for column, value in change.items():
        rois.loc[0, column] = value
    path = tmp_path / "rois.csv"
    rois.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("change, words", [
    ({"section": 40}, "names section 40 but the stack has 4 sections"),
    ({"x": 90}, "reaches outside the 96 x 96 px sections"),
])
def test_rois_that_do_not_belong_to_the_stack(client, counts, tmp_path, change, words):
    sim, model = counts
    rois = _rewritten_rois(sim, tmp_path, **change)
    with pytest.raises(InputError, match=words):
        predict_sections(sim["path"], model, tmp_path / "p.parquet", rois=rois, client=client)
    assert not (tmp_path / "p.parquet").exists()
    assert not (tmp_path / "p.parquet.partial").exists()


def test_bad_models_thickness_and_settings(client, counts, tmp_path):
    from tests.predict import tiny_model

    sim, model = counts
    movie_model = tiny_model(tmp_path)
    with pytest.raises(InputError, match="--rois takes a counts model"):
        predict_sections(sim["path"], movie_model, tmp_path / "p.parquet",
                         rois=sim["rois_path"], client=client)
    stack = tmp_path / "copy.zarr"
    shutil.copytree(sim["path"], stack)
    attrs = json.loads((stack / "zarr.json").read_text())
    del attrs["attributes"]["smlmscale"]["section_thickness_nm"]
    (stack / "zarr.json").write_text(json.dumps(attrs))
    with pytest.raises(InputError, match="does not record its section thickness"):
        predict_sections(stack, model, tmp_path / "p.parquet", rois=sim["rois_path"],
                         client=client)
    result = predict_sections(stack, model, tmp_path / "p.parquet", rois=sim["rois_path"],
                              client=client, settings=StackSettings(section_thickness_nm=100.0))
    z = read_table(result.path)[0]["z_nm"]
    assert set(np.unique(z)) <= {50.0, 150.0, 250.0, 350.0}
    for kwargs, words in (({"min_count": -1}, "--threshold must be"),
                          ({"section_thickness_nm": 0}, "--section-thickness must be"),
                          ({"rois_per_task": 0}, "rois-per-task must be at least 1")):
        with pytest.raises(InputError, match=words):
            StackSettings(**kwargs)
    with pytest.raises(InputError, match="no pixel of the"):
        predict_sections(sim["path"], model, tmp_path / "q.parquet", rois=sim["rois_path"],
                         client=client, settings=StackSettings(min_count=1e9))
    assert not (tmp_path / "q.parquet.partial").exists()
