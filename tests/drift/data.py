"""Drifting tables written in row groups that end on frame boundaries (partitions when read
with a small blocksize) and cut through the drift segments."""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd

from smlmscale.drift.simulate import drifting_table
from smlmscale.io.tables import TableMeta, write_table


def write_in_groups(table: pd.DataFrame, path: Path, *, cuts=(0, 137, 333, 611, 10**9),
                    meta: TableMeta | None = None) -> Path:
    """``table`` as one row group per frame range ``cuts[k]..cuts[k + 1]``."""
    frame = table["frame"].to_numpy()
    parts = [table[(frame >= a) & (frame < b)] for a, b in zip(cuts[:-1], cuts[1:])]
    ddf = dd.concat([dd.from_pandas(p, npartitions=1) for p in parts if len(p)])
    write_table(ddf, path, meta=meta or TableMeta(pixel_size_nm=100.0))
    return path


def small_table(seed: int = 0, rows: int = 40000, frames: int = 800) -> pd.DataFrame:
    """A drifting table: 400 sites on 4 um, 8 nm precision, drift tens of nm."""
    return drifting_table(rows=rows, frames=frames, sites=400, field_nm=4000.0, seed=seed)


def segments_eager(table: pd.DataFrame, segment_frames: int, pixel_nm: float):
    """Segment images of the whole in-memory table by ``numpy.histogram2d``."""
    frames = int(table.frame.max()) + 1
    n = frames // segment_frames
    seg = np.minimum(table.frame.to_numpy() // segment_frames, n - 1)
    low = table[["y_nm", "x_nm"]].min().to_numpy()
    high = table[["y_nm", "x_nm"]].max().to_numpy()
    shape = tuple(int(v) for v in np.floor((high - low) / pixel_nm) + 1)
    edges = [low[a] + pixel_nm * np.arange(shape[a] + 1) for a in range(2)]
    return [np.histogram2d(table.y_nm[seg == k], table.x_nm[seg == k], bins=edges)[0]
            for k in range(n)], frames
