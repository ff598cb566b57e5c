"""evaluate_tables: hand-built tables, CRLB ratio, and the parallel path on a cluster."""

import math

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.evaluate import METRIC_KEYS, EvaluateSettings, evaluate_tables
from smlmscale.evaluate.crlb import localization_variance_nm2
from smlmscale.evaluate.crlb_frames import frame_bounds
from smlmscale.io.tables import TableMeta
from tests.evaluate.reference import reference_greedy

REQUIRED_KEYS = {"jaccard", "precision", "recall", "f1", "rmse_lateral_nm", "rmse_axial_nm",
                 "efficiency_lateral", "efficiency_axial", "tp", "fp", "fn", "n_truth", "n_pred"}


def _table(rows, columns=("frame", "x_nm", "y_nm")):
    df = pd.DataFrame(rows, columns=list(columns)).astype(float)
    return df.astype({"frame": np.int64})


TRUTH = _table([(0, 0, 0), (0, 1000, 1000), (1, 500, 500), (4, 0, 0)])
PRED = _table([(0, 30, 40),        # 50 nm from truth 0
               (0, 1000, 1250.5),  # just beyond 250 nm of truth 1
               (1, 500, 500),      # exact
               (2, 0, 0)])         # frame 2 has no truth; frame 4 has no prediction


def test_hand_built_counts_and_errors():
    r = evaluate_tables(PRED, TRUTH)
    assert (r.tp, r.fp, r.fn, r.n_truth, r.n_pred) == (2, 2, 2, 4, 4)
    assert r.jaccard == pytest.approx(2 / 6) and r.precision == r.recall == 0.5
    assert r.rmse_lateral_nm == pytest.approx(math.sqrt(2500 / 2))
    assert (r.bias_x_nm, r.bias_y_nm) == pytest.approx((15.0, 20.0))
    assert r.rmse_axial_nm is None and r.efficiency_axial is None
    assert r.efficiency_lateral == pytest.approx(
        100 - math.hypot(100 - 100 * 2 / 6, r.rmse_lateral_nm))
    assert r.pairs.truth_index.tolist() == [0, 2] and r.pairs.pred_index.tolist() == [0, 2]
    assert r.pairs.distance_nm.tolist() == [50.0, 0.0] and r.pairs.dz_nm is None
    d = r.to_dict()
    assert REQUIRED_KEYS <= d.keys() and set(METRIC_KEYS) <= d.keys()
    assert d["rmse_over_crlb"] is None and any("photons" in n for n in d["notes"])


def test_empty_prediction_table():
    r = evaluate_tables(PRED.iloc[:0], TRUTH)
    assert (r.tp, r.fp, r.fn) == (0, 0, 4)
    assert r.precision == 0.0 and r.recall == 0.0 and r.f1 == 0.0 and r.jaccard == 0.0
    assert r.rmse_lateral_nm is None and r.efficiency_lateral is None and len(r.pairs) == 0


def test_z_only_in_truth_is_lateral_only_and_z_in_both_is_scored():
    truth = TRUTH.assign(z_nm=[0.0, 0.0, 100.0, 0.0])
    r = evaluate_tables(PRED, truth)
    assert r.tp == 2 and r.rmse_axial_nm is None and not r.axial
    assert any("no z_nm" in n for n in r.notes)
    pred = PRED.assign(z_nm=[-60.0, 0.0, 700.0, 0.0])  # the frame-1 pair is 600 nm off in z
    r = evaluate_tables(pred, truth)
    assert r.tp == 1 and r.rmse_axial_nm == pytest.approx(60.0)
    assert r.rmse_3d_nm == pytest.approx(math.sqrt(2500 + 3600))
    r = evaluate_tables(pred, truth, settings=EvaluateSettings(tolerance_axial_nm=650))
    assert r.tp == 2 and r.bias_z_nm == pytest.approx((-60 + 600) / 2)
    assert r.to_dict()["tolerance_axial_nm"] == 650


def test_rmse_over_crlb_from_truth_columns_and_settings():
    truth = TRUTH.assign(photons=[1000.0, 1000.0, 500.0, 800.0], sigma_nm=120.0)
    r = evaluate_tables(PRED, truth, truth_meta=TableMeta(pixel_size_nm=100.0),
                        settings=EvaluateSettings(background_photons=5.0))
    var = localization_variance_nm2(np.array([1000.0, 500.0]), psf_sigma_nm=120,
                                    background_photons=5.0, pixel_size_nm=100)
    assert r.rmse_over_crlb == pytest.approx(math.sqrt((2500 / 2 / 2) / var.mean()))
    emccd = evaluate_tables(PRED, truth, settings=EvaluateSettings(
        pixel_size_nm=100.0, background_photons=5.0, noise_factor=2.0))
    assert emccd.rmse_over_crlb == pytest.approx(r.rmse_over_crlb / math.sqrt(2))
    skipped = evaluate_tables(PRED, truth)  # no pixel size anywhere
    assert skipped.rmse_over_crlb is None and any("pixel size" in n for n in skipped.notes)
    defaulted = evaluate_tables(PRED, truth, settings=EvaluateSettings(pixel_size_nm=100.0))
    assert any("0 background" in n for n in defaulted.notes)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop(columns="y_nm"), "lacks column(s) y_nm"),
    (lambda t: t.assign(x_nm=[0.0, np.nan, 1.0, 2.0]), "NaN or infinite x_nm"),
])
def test_bad_tables_raise_input_error(change, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate_tables(PRED, change(TRUTH))


@pytest.mark.parametrize("kwargs", [{"tolerance_lateral_nm": -1}, {"matching": "nearest"},
                                    {"background_photons": -2.0}, {"block_rows": 0}])
def test_bad_settings(kwargs):
    with pytest.raises(InputError):
        EvaluateSettings(**kwargs)


def _random(seed, n_frames=60, per_frame=30, z=False):
    rng = np.random.default_rng(seed)
    n = n_frames * per_frame
    truth = pd.DataFrame({"frame": np.sort(rng.integers(0, n_frames, n)),
                          "x_nm": rng.uniform(0, 3000, n), "y_nm": rng.uniform(0, 3000, n)})
    keep = rng.random(n) > 0.1
    pred = truth[keep].copy()
    pred[["x_nm", "y_nm"]] += rng.normal(0, 40, (len(pred), 2))
    extra = pd.DataFrame({"frame": rng.integers(0, n_frames + 5, 150),
                          "x_nm": rng.uniform(0, 3000, 150), "y_nm": rng.uniform(0, 3000, 150)})
    pred = pd.concat([pred, extra]).sort_values("frame", kind="stable", ignore_index=True)
    if z:
        truth["z_nm"] = rng.uniform(-400, 400, len(truth))
        pred["z_nm"] = rng.uniform(-400, 400, len(pred))
    return truth, pred


def _same(a, b):
    assert (a.tp, a.fp, a.fn, a.n_truth, a.n_pred) == (b.tp, b.fp, b.fn, b.n_truth, b.n_pred)
    for key in ("rmse_lateral_nm", "rmse_axial_nm", "bias_x_nm", "bias_y_nm", "jaccard",
                "efficiency_lateral"):
        x, y = getattr(a, key), getattr(b, key)
        assert (x is None and y is None) or x == pytest.approx(y, abs=1e-9), key
    np.testing.assert_array_equal(a.pairs.truth_index, b.pairs.truth_index)
    np.testing.assert_array_equal(a.pairs.pred_index, b.pairs.pred_index)


def test_in_process_equals_reference():
    truth, pred = _random(0)
    r = evaluate_tables(pred, truth)
    ref = reference_greedy(truth.frame.to_numpy(), truth[["x_nm", "y_nm"]].to_numpy(),
                           pred.frame.to_numpy(), pred[["x_nm", "y_nm"]].to_numpy())
    assert r.tp == len(ref) and r.fp == len(pred) - len(ref) and r.fn == len(truth) - len(ref)
    dist = np.array([d for _, _, d in ref])
    assert r.rmse_lateral_nm == pytest.approx(math.sqrt(np.mean(dist**2)), abs=1e-9)


@pytest.mark.parametrize("block_rows", [7, 313, 10_000])
def test_pandas_blocks_on_a_cluster_equal_in_process(client, block_rows):
    truth, pred = _random(1, z=True)
    settings = EvaluateSettings(block_rows=block_rows)
    _same(evaluate_tables(pred, truth, settings=settings, client=client),
          evaluate_tables(pred, truth, settings=settings))


def test_unsorted_pandas_on_a_cluster_keeps_row_positions(client):
    truth, pred = _random(2)
    shuffled = pred.sample(frac=1.0, random_state=0).reset_index(drop=True)
    local = evaluate_tables(shuffled, truth)
    _same(evaluate_tables(shuffled, truth, settings=EvaluateSettings(block_rows=200),
                          client=client), local)
    matched = shuffled.iloc[local.pairs.pred_index]
    np.testing.assert_allclose(matched.x_nm.to_numpy() - truth.x_nm.to_numpy()[
        local.pairs.truth_index], local.pairs.dx_nm)


def test_dask_partitions_cutting_through_frames_equal_in_process(client):
    truth, pred = _random(3, z=True)
    truth = truth.assign(photons=800.0, sigma_nm=110.0, background=4.0)
    settings = EvaluateSettings(pixel_size_nm=100.0)
    lazy_truth = dd.from_pandas(truth, npartitions=7, sort=False)  # row chunks: frames split
    lazy_pred = dd.from_pandas(pred, npartitions=5, sort=False)
    parts = [lazy_truth.get_partition(i).compute().frame for i in range(7)]
    assert any(a.iloc[-1] == b.iloc[0] for a, b in zip(parts[:-1], parts[1:]))
    a = evaluate_tables(lazy_pred, lazy_truth, settings=settings, client=client)
    b = evaluate_tables(pred, truth, settings=settings)
    _same(a, b)
    assert a.rmse_over_crlb == pytest.approx(b.rmse_over_crlb, abs=1e-9)
    assert a.rmse_axial_nm == pytest.approx(b.rmse_axial_nm, abs=1e-9)


def test_read_table_lazy_on_a_cluster(client, tmp_path):
    from smlmscale.io.tables import read_table_lazy, write_table

    truth, pred = _random(4, n_frames=200)
    write_table(truth, tmp_path / "truth.csv")
    write_table(pred, tmp_path / "pred.csv")
    lazy_truth, _ = read_table_lazy(tmp_path / "truth.csv", blocksize=20_000)
    lazy_pred, _ = read_table_lazy(tmp_path / "pred.csv", blocksize=15_000)
    assert lazy_truth.npartitions > 1 and lazy_pred.npartitions > 1
    settings = EvaluateSettings(matching="hungarian")
    a = evaluate_tables(lazy_pred, lazy_truth, settings=settings, client=client)
    b = evaluate_tables(lazy_pred.compute(), lazy_truth.compute(), settings=settings)
    _same(a, b)


def test_rmse_over_frame_limit_is_opt_in_and_the_same_in_blocks(client):
    truth, pred = _random(6)
    truth = truth.assign(photons=2000.0, sigma_nm=130.0, background=20.0)
    assert evaluate_tables(pred, truth, settings=EvaluateSettings(
        pixel_size_nm=100.0)).rmse_over_frame_limit is None
    settings = EvaluateSettings(pixel_size_nm=100.0, frame_limit=True, block_rows=300)
    local = evaluate_tables(pred, truth, settings=settings)
    limit = frame_bounds(truth.frame, truth.x_nm, truth.y_nm, truth.photons,
                         psf_sigma_nm=130.0, background_photons=20.0,
                         pixel_size_nm=100.0).limit_nm2[local.pairs.truth_index]
    per_axis = (local.pairs.dx_nm ** 2 + local.pairs.dy_nm ** 2) / 2
    assert local.rmse_over_frame_limit == pytest.approx(math.sqrt(per_axis.sum() / limit.sum()))
    assert "rmse_over_frame_limit" in local.to_dict()
    cluster = evaluate_tables(pred, truth, settings=settings, client=client)  # frame-cut blocks
    assert cluster.rmse_over_frame_limit == pytest.approx(local.rmse_over_frame_limit, rel=1e-9)
    lazy = evaluate_tables(dd.from_pandas(pred, npartitions=4, sort=False),
                           dd.from_pandas(truth, npartitions=7, sort=False),  # frames split
                           settings=settings, client=client)
    assert lazy.rmse_over_frame_limit == pytest.approx(local.rmse_over_frame_limit, rel=1e-9)
    skipped = evaluate_tables(pred, truth[["frame", "x_nm", "y_nm"]],
                              settings=EvaluateSettings(frame_limit=True))
    assert skipped.rmse_over_frame_limit is None
    assert any("rmse_over_frame_limit skipped" in n for n in skipped.notes)
