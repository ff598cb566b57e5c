"""Drift correction benchmark (issue 17 item 2): ``smlmscale undrift`` (RCC on a LocalCluster
of 2 worker processes x 1 thread) against Picasso's RCC undrift, same table, same run.

The table: 10^7 localizations (``SMLMSCALE_BENCH_SMALL=1``: 10^6) of 3,000 binding sites
blinking at random over 40,000 frames (small: 10,000) on a 10 um field, 8 nm localization
error, and a known drift (linear ramp + sinusoids, tens of nm:
:func:`smlmscale.drift.simulate.true_drift`), written as Parquet in 16 row groups cut on
frame boundaries (partitions that cut through the segments). Segments of 1,000 frames for
both.

- *smlmscale*: :func:`~smlmscale.drift.run.prepare_undrift` + :func:`run_undrift` at the
  default 20 nm render pixel, timed end to end: reading the Parquet table, the estimate,
  the corrected table written as Parquet, the drift curve; then the estimate alone again
  (:func:`~smlmscale.drift.run.estimate_drift`: reading + RCC, no table written).
- *picasso*: picassosr's ``postprocess.undrift`` in its own venv
  (:mod:`benchmarks.picasso_undrift_contender`, ``make bench-picasso``) on the same rows in
  Picasso's convention (camera px of 100 nm, lpx = lpy = 8 nm), timed in memory: no I/O.

Reported: drift RMSE against the truth for both (per-frame 2D error after removing the
mean offset), the time ratio. Target: smlmscale's RMSE at most Picasso's.

Run with ``python -m pytest benchmarks/test_undrift.py -o addopts="" -p no:cacheprovider -s``.
Making the table is not timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import numpy as np
import pytest

pytestmark = pytest.mark.timeout(3600)

SMALL = os.environ.get("SMLMSCALE_BENCH_SMALL") == "1"
ROWS = 10**6 if SMALL else 10**7
FRAMES = 10_000 if SMALL else 40_000
SEGMENT = 1000
PIXEL_NM = 100.0
PICASSO_PYTHON = os.environ.get("SMLMSCALE_BENCH_PICASSO_PYTHON", ".venv-picasso/bin/python")
RESULTS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from smlmscale.drift.simulate import drifting_table
    from smlmscale.io.tables import TableMeta
    from tests.drift.data import write_in_groups

    folder = tmp_path_factory.mktemp("undrift_bench")
    table = drifting_table(rows=ROWS, frames=FRAMES, sites=3000, field_nm=10_000.0,
                           precision_nm=8.0, seed=7)
    cuts = (0,) + tuple(np.linspace(0, FRAMES, 17).astype(int)[1:-1] + 7) + (10**9,)
    path = write_in_groups(table, folder / "locs.parquet", cuts=cuts,
                           meta=TableMeta(pixel_size_nm=PIXEL_NM, n_frames=FRAMES,
                                          image_shape=(100, 100)))
    return folder, path, table


def _picasso(folder, table) -> dict | None:
    if not os.path.exists(PICASSO_PYTHON):
        return None
    lp = np.full(len(table), 8.0 / PIXEL_NM, np.float32)
    np.savez(folder / "picasso.npz", frame=table["frame"].to_numpy().astype(np.uint32),
             x=(table["x_nm"].to_numpy() / PIXEL_NM - 0.5).astype(np.float32),
             y=(table["y_nm"].to_numpy() / PIXEL_NM - 0.5).astype(np.float32),
             lpx=lp, lpy=lp, photons=table["photons"].to_numpy().astype(np.float32))
    (folder / "info.json").write_text(json.dumps({
        "Height": 100, "Width": 100, "Frames": FRAMES, "Pixelsize": PIXEL_NM,
        "segmentation": SEGMENT}))
    done = subprocess.run([PICASSO_PYTHON, "benchmarks/picasso_undrift_contender.py",
                           str(folder / "picasso.npz"), str(folder / "info.json"),
                           str(folder / "picasso_drift.npy")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "drift_nm": np.load(folder / "picasso_drift.npy")}


def _undrift(path, folder, client):
    from smlmscale.drift.run import UndriftSettings, prepare_undrift, run_undrift

    started = time.perf_counter()
    plan = prepare_undrift(path, folder / "undrifted.parquet", blocksize=1, overwrite=True,
                           settings=UndriftSettings(segment_frames=SEGMENT))
    result = run_undrift(plan, client=client)
    return time.perf_counter() - started, result


def test_undrift_vs_picasso(benchmark, data, cluster_client):
    import pandas as pd

    from smlmscale.drift.simulate import drift_rmse_nm, true_drift

    folder, path, table = data
    seconds, result = benchmark.pedantic(lambda: _undrift(path, folder, cluster_client),
                                         rounds=1, iterations=1)
    from smlmscale.drift.run import estimate_drift, prepare_undrift

    started = time.perf_counter()      # the estimate alone, without writing the table
    estimate_drift(prepare_undrift(path, folder / "unused.parquet", blocksize=1),
                   client=cluster_client)
    estimate_s = time.perf_counter() - started
    truth = true_drift(np.arange(FRAMES), frames=FRAMES)
    ours = pd.read_csv(result.drift_path)[["dx_nm", "dy_nm"]].to_numpy()
    picasso = _picasso(folder, table)
    RESULTS["undrift"] = {
        "rows": ROWS, "frames": FRAMES, "segment_frames": SEGMENT,
        "smlmscale": {"seconds": seconds, "estimate_seconds": estimate_s,
                      "rmse_nm": drift_rmse_nm(ours, truth),
                      "segments": result.segments, "pairs_kept": result.pairs_kept,
                      "pairs": result.pairs},
        "picasso": None if picasso is None else {
            "seconds": picasso["seconds"], "segments": picasso["segments"],
            "rmse_nm": drift_rmse_nm(picasso["drift_nm"], truth)},
        "true_drift_span_nm": np.ptp(truth, axis=0).tolist()}
    if picasso is not None:
        RESULTS["undrift"]["time_ratio_smlmscale_over_picasso"] = seconds / picasso["seconds"]
        RESULTS["undrift"]["estimate_time_ratio"] = estimate_s / picasso["seconds"]
    print(json.dumps(RESULTS["undrift"], indent=1))
    assert result.rows == ROWS
    if picasso is not None:
        assert RESULTS["undrift"]["smlmscale"]["rmse_nm"] <= RESULTS["undrift"]["picasso"][
            "rmse_nm"]
