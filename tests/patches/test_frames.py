"""FrameTable: frame-ordered lazy parts, selections by frame range, filters and errors."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest

from smlmscale.errors import InputError
from smlmscale.io.tables import TableMeta, write_table
from smlmscale.patches.frames import FrameTable
from tests.helpers import raise_if_dask_computes


def _table(n=400, frames=50, seed=0, shuffled=False):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"frame": np.sort(rng.integers(0, frames, n)),
                          "x_nm": rng.uniform(0, 5000, n), "y_nm": rng.uniform(0, 5000, n),
                          "photons": rng.uniform(100, 900, n),
                          "detectable": (rng.uniform(size=n) > 0.2).astype(np.int64)})
    if shuffled:
        table = table.sample(frac=1, random_state=1).reset_index(drop=True)
    return table


@pytest.mark.parametrize("shuffled", [False, True])
def test_rows_equal_pandas_selection(tmp_path, shuffled):
    table = _table(shuffled=shuffled)
    path = tmp_path / "t.csv"
    write_table(table, path, format="csv", meta=TableMeta(pixel_size_nm=100.0))
    ft = FrameTable.open(path, columns=["x_nm", "y_nm"], part_bytes=3000)
    assert len(ft.parts) > 3
    assert (ft.first[1:] > ft.last[:-1]).all()  # ordered, not overlapping
    assert ft.last_frame == table.frame.max() and ft.n_rows == len(table)
    kept = table[table.detectable == 1].sort_values("frame", kind="stable")
    for t0, t1 in [(0, 50), (7, 8), (10, 31), (49, 60), (60, 70)]:
        with raise_if_dask_computes():
            lazy = ft.rows(t0, t1)
        got = dask.compute(lazy, scheduler="sync")[0]
        want = kept[(kept.frame >= t0) & (kept.frame < t1)][["frame", "x_nm", "y_nm"]]
        assert list(got.columns) == ["frame", "x_nm", "y_nm"]
        if shuffled:  # the shuffle keeps each frame's rows, not necessarily file order
            got = got.sort_values(["frame", "x_nm"]).reset_index(drop=True)
            want = want.sort_values(["frame", "x_nm"])
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9)
    narrow = dask.compute(ft.rows(0, 50, ["frame", "x_nm"]), scheduler="sync")[0]
    assert list(narrow.columns) == ["frame", "x_nm"]


def test_all_columns_and_overlapping(tmp_path):
    path = tmp_path / "t.parquet"
    write_table(_table(), path, meta=TableMeta(pixel_size_nm=100.0))
    ft = FrameTable.open(path)
    assert {"x_nm", "y_nm", "photons"} <= set(ft.columns) and "detectable" not in ft.columns
    assert ft.overlapping(0, 1000) == list(range(len(ft.parts)))
    assert ft.overlapping(1000, 2000) == []


def test_errors(tmp_path):
    path = tmp_path / "t.parquet"
    write_table(_table(frames=20), path, meta=TableMeta(pixel_size_nm=100.0))
    with pytest.raises(InputError, match="no z_nm column"):
        FrameTable.open(path, require=["x_nm", "z_nm"])
    with pytest.raises(InputError, match="frame 19 but the movie has only 10 frames"):
        FrameTable.open(path).check_frames(10)
    with pytest.raises(InputError, match="no such file"):
        FrameTable.open(tmp_path / "missing.parquet")
