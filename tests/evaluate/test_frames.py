"""Evaluating a prediction of some frames against the truth of all (issue 18 item 6)."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from smlmscale.evaluate import EvaluateSettings, evaluate_tables
from smlmscale.evaluate.plan import prepare_evaluate, run_evaluate
from smlmscale.io.tables import TableMeta, write_table
from smlmscale.io.tables.notices import TableWarning


def _truth(frames=200, per_frame=3, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = frames * per_frame
    return pd.DataFrame({"frame": np.repeat(np.arange(frames), per_frame),
                         "x_nm": rng.uniform(0, 5000, n), "y_nm": rng.uniform(0, 5000, n)})


def _predicted(truth: pd.DataFrame, first: int, stop: int, seed=1) -> pd.DataFrame:
    """Truth within ``[first, stop)``, 20 nm off, a quarter of the rows missed."""
    rng = np.random.default_rng(seed)
    part = truth[(truth["frame"] >= first) & (truth["frame"] < stop)]
    part = part[rng.uniform(size=len(part)) > 0.25]
    return part.assign(x_nm=part["x_nm"] + 20.0).reset_index(drop=True)


def _reference(pred, truth, first, stop):
    """The eager answer: score the truth of the predicted frames only."""
    inside = truth[(truth["frame"] >= first) & (truth["frame"] < stop)].reset_index(drop=True)
    return evaluate_tables(pred, inside)


def test_the_recorded_frames_restrict_the_truth(tmp_path):
    truth = _truth()
    pred = _predicted(truth, 0, 100)
    write_table(truth, tmp_path / "truth.parquet")
    write_table(pred, tmp_path / "pred.parquet",
                meta=TableMeta(pixel_size_nm=100.0, extra={"predicted_frames": [0, 100]}))
    plan = prepare_evaluate(tmp_path / "pred.parquet", truth=tmp_path / "truth.parquet")
    assert plan.frames == (0, 100)
    result = run_evaluate(plan)
    expected = _reference(pred, truth, 0, 100)
    assert (result.tp, result.fp, result.fn) == (expected.tp, expected.fp, expected.fn)
    assert result.jaccard == pytest.approx(expected.jaccard) and result.jaccard > 0.7
    assert result.n_truth == 300
    assert any("scored frames 0-99 only" in n and "300 truth localization(s)" in n
               for n in result.notes)
    # scored against the whole truth it would be about half of that (and warns)
    with pytest.warns(TableWarning):
        assert evaluate_tables(pred, truth).jaccard < 0.5 * result.jaccard + 0.05


def test_a_prediction_without_the_record_warns(tmp_path):
    truth = _truth()
    pred = _predicted(truth, 50, 120)
    with pytest.warns(TableWarning, match=r"390 of 600 truth localizations lie in frames "
                                          r"outside the prediction's 50-119.*--frames 50:120"):
        evaluate_tables(pred, truth)


def test_no_warning_for_a_whole_prediction(recwarn):
    truth = _truth()
    evaluate_tables(_predicted(truth, 0, 200), truth)
    assert not [w for w in recwarn if issubclass(w.category, TableWarning)]


def test_explicit_frames_win_over_the_record(tmp_path):
    truth = _truth()
    pred = _predicted(truth, 0, 200)
    write_table(truth, tmp_path / "truth.parquet")
    write_table(pred, tmp_path / "pred.parquet",
                meta=TableMeta(extra={"predicted_frames": [0, 200]}))
    result = run_evaluate(prepare_evaluate(tmp_path / "pred.parquet",
                                           truth=tmp_path / "truth.parquet", frames=(30, 70)))
    expected = _reference(pred[(pred.frame >= 30) & (pred.frame < 70)], truth, 30, 70)
    assert (result.tp, result.fp, result.fn) == (expected.tp, expected.fp, expected.fn)


def test_dask_tables_on_a_cluster_match_the_eager_reference(client):
    truth = _truth(frames=120)
    pred = _predicted(truth, 20, 90)
    lazy_truth = dd.from_pandas(truth, npartitions=7, sort=False)  # cuts through frames
    lazy_pred = dd.from_pandas(pred, npartitions=3, sort=False)
    result = evaluate_tables(lazy_pred, lazy_truth, client=client, frames=(20, 90),
                             settings=EvaluateSettings())
    expected = _reference(pred, truth, 20, 90)
    assert (result.tp, result.fp, result.fn) == (expected.tp, expected.fp, expected.fn)
    assert result.rmse_lateral_nm == pytest.approx(expected.rmse_lateral_nm)
