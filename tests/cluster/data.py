"""A small simulated section stack as a partitioned point table and its ROI list."""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd
import pandas as pd

from smlmscale.io.tables import TableMeta, read_table, write_table
from smlmscale.simulate.sections import SectionSettings, simulate_sections

#: 6 sections of 256 x 256 px (155 nm), 12 synapse-like clusters: 8 tile sequences.
SETTINGS = SectionSettings(n_sections=6, size_px=256, n_clusters=12, seed=3)
PIXEL_NM, THICKNESS_NM = 155.0, 70.0


def write_partitioned(table: pd.DataFrame, path: Path, meta: TableMeta,
                      groups=((0, 1), (2, 3), (4, 5))) -> Path:
    """Write ``table`` as one Parquet row group per group of sections (partitions when
    read with a small blocksize)."""
    parts = [dd.from_pandas(table[table["section"].isin(g)], npartitions=1) for g in groups]
    write_table(dd.concat(parts), path, meta=meta)
    return path


def section_data(folder: Path) -> tuple[Path, Path, pd.DataFrame]:
    """``(table path, ROI list path, table)``: the truth table of :data:`SETTINGS` in 3
    row groups (with its ``cluster`` truth column and the stack's thickness in its
    metadata) and the simulator's ROI list."""
    result = simulate_sections(folder / "stack.zarr", settings=SETTINGS)
    table, meta = read_table(result["truth_path"])
    path = write_partitioned(table, folder / "points.parquet", meta)
    return path, Path(result["rois_path"]), read_table(path)[0]
