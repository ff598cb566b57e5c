"""The distributed undrift against an eager in-memory RCC, drift recovery, outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smlmscale.drift import graph, rcc
from smlmscale.drift.run import (UndriftSettings, estimate_drift, prepare_undrift,
                                 run_undrift, segment_centres)
from smlmscale.drift.simulate import drift_rmse_nm, true_drift
from smlmscale.errors import InputError
from smlmscale.io.tables import read_table
from tests.drift.data import segments_eager, small_table, write_in_groups
from tests.helpers import raise_if_dask_computes

SETTINGS = UndriftSettings(segment_frames=100, pixel_size_nm=20.0, max_shift_nm=300.0,
                           sigma_nm=20.0, max_residual_nm=20.0)


def _eager_drift(table, settings):
    """RCC of the whole in-memory table: histogram2d images, every pair, least squares."""
    images, frames = segments_eager(table, settings.segment_frames, settings.pixel_size_nm)
    m = int(np.ceil(settings.max_shift_nm / settings.pixel_size_nm))
    spectra = [rcc.spectrum(i, max_shift_px=m) for i in images]
    pairs = np.array([(i, j) for i in range(len(images)) for j in range(i + 1, len(images))])
    shifts = np.array([rcc.pair_shift(spectra[i], spectra[j],
                                      padded=rcc.padded_shape(images[0].shape, m),
                                      max_shift_px=m,
                                      sigma_px=settings.sigma_nm / settings.pixel_size_nm)
                       for i, j in pairs])
    drift, kept = rcc.solve_drift(pairs, shifts[:, [1, 0]] * settings.pixel_size_nm,
                                  n_segments=len(images), max_residual_nm=settings.max_residual_nm)
    centres = segment_centres(frames, settings.segment_frames, len(images))
    drift -= rcc.drift_at(np.arange(frames), centres, drift).mean(axis=0)
    return centres, drift, kept


def test_graph_equals_eager_on_partitions_cutting_segments(client, tmp_path):
    table = small_table()
    path = write_in_groups(table, tmp_path / "locs.parquet")
    plan = prepare_undrift(path, tmp_path / "out.parquet", settings=SETTINGS, blocksize=1)
    assert plan.table.npartitions == 4                       # cut at frames 137, 333, 611
    curve, rows = estimate_drift(plan, client=client)
    centres, drift, kept = _eager_drift(table, SETTINGS)
    assert rows == len(table)
    np.testing.assert_allclose(curve.centres, centres)
    np.testing.assert_allclose(curve.drift_nm, drift, atol=1e-6)
    assert curve.pairs_kept == kept.sum() and curve.pairs == 28


def test_recovers_a_known_drift_and_writes_outputs(client, tmp_path):
    table = small_table(seed=1)
    path = write_in_groups(table, tmp_path / "locs.parquet")
    out = tmp_path / "out.parquet"
    plan = prepare_undrift(path, out, settings=SETTINGS, plot=tmp_path / "drift.png",
                           blocksize=1)
    result = run_undrift(plan, client=client)
    curve = pd.read_csv(tmp_path / "out_drift.csv")
    assert list(curve.columns) == ["frame", "dx_nm", "dy_nm"] and len(curve) == 800
    truth = true_drift(np.arange(800), frames=800)
    assert np.ptp(truth, axis=0).min() > 20                  # tens of nm to recover
    assert drift_rmse_nm(curve[["dx_nm", "dy_nm"]].to_numpy(), truth) < 3.0
    corrected, meta = read_table(out)
    assert result.rows == len(table) == len(corrected)
    assert meta.extra["undrift"]["segment_frames"] == 100
    want = table[["x_nm", "y_nm"]].to_numpy() - np.interp(
        table.frame, curve.frame, curve.dx_nm)[:, None] * [1, 0] - np.interp(
        table.frame, curve.frame, curve.dy_nm)[:, None] * [0, 1]
    np.testing.assert_allclose(corrected[["x_nm", "y_nm"]].to_numpy(), want, atol=1e-9)
    np.testing.assert_array_equal(corrected["photons"], table["photons"])
    with open(tmp_path / "drift.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_graph_builders_stay_lazy(tmp_path):
    path = write_in_groups(small_table(), tmp_path / "locs.parquet")
    plan = prepare_undrift(path, tmp_path / "out.parquet", settings=SETTINGS, blocksize=1)
    field = graph.Field(shape=(200, 200), origin_nm=(0.0, 0.0), pixel_nm=20.0,
                        segment_frames=100, n_segments=8)
    with raise_if_dask_computes():
        graph.table_stats(plan.table)
        spectra = graph.segment_spectra(plan.table, [(0, 136), (137, 332), (333, 610),
                                                     (611, 799)], field, max_shift_px=15)
        pairs, shifts = graph.pair_shifts(spectra, field, max_shift_px=15, sigma_px=1.0)
        graph.apply_drift(plan.table, np.array([50.0, 150.0]), np.zeros((2, 2)))
    assert len(shifts) == len(pairs) == 28
    # segment 1 (frames 100-199) needs partitions 0 and 1 only
    assert len(spectra[1].dask.dependencies[spectra[1].key]) == 2


def _bad(tmp_path, table, **kw):
    path = tmp_path / "bad.parquet"
    table.to_parquet(path) if kw.pop("raw", False) else write_in_groups(table, path)
    return path


def test_bad_inputs_raise_input_error(client, tmp_path):
    table = small_table(rows=5000)
    with pytest.raises(InputError, match="fewer than two segments"):
        plan = prepare_undrift(_bad(tmp_path, table), tmp_path / "o.parquet",
                               settings=UndriftSettings(segment_frames=500))
        estimate_drift(plan, client=client)
    nan = table.copy()
    nan.loc[10, "x_nm"] = np.nan
    (tmp_path / "bad.parquet").unlink()
    with pytest.raises(InputError, match="NaN or infinite x_nm"):
        estimate_drift(prepare_undrift(_bad(tmp_path, nan), tmp_path / "o.parquet"),
                       client=client)
    with pytest.raises(InputError, match="the drift plot must be a .png file"):
        prepare_undrift(tmp_path / "bad.parquet", tmp_path / "o.parquet", plot="d.jpg")
    with pytest.raises(InputError, match="rcc"):
        UndriftSettings(method="aim")
    assert not (tmp_path / "o.parquet").exists() and not (tmp_path / "o_drift.csv").exists()
