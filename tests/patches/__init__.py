"""Tests of smlmscale.patches; :func:`make_data` writes a small movie and its table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from smlmscale.io.ome_zarr import create_image_store
from smlmscale.io.tables import TableMeta, write_table

PIXEL_NM = 100.0


def make_data(folder, *, frames=13, size=40, per_frame=12, chunk=5, seed=3, z=False, csv=False):
    """A random uint16 movie ``(frames, size, size)`` (chunks cut it) and a table of emitters.

    Returns ``(store path, table path, movie, table)``; the table has ``photons``, a
    ``detectable`` column with every 7th row 0, and ``z_nm`` when ``z``. ``csv`` writes
    a plain CSV (``.csv`` with format name in the file) instead of Parquet.
    """
    rng = np.random.default_rng(seed)
    movie = rng.integers(100, 1000, size=(frames, size, size), dtype=np.uint16)
    store = folder / "movie.zarr"
    create_image_store(store, shape=movie.shape, dtype=movie.dtype, chunks=(chunk, size, size),
                       pixel_size_nm=PIXEL_NM)[:] = movie
    n = frames * per_frame
    table = pd.DataFrame({
        "frame": np.repeat(np.arange(frames), per_frame).astype(np.int64),
        "x_nm": rng.uniform(0, size * PIXEL_NM, n), "y_nm": rng.uniform(0, size * PIXEL_NM, n),
        "photons": rng.uniform(500, 3000, n), "detectable": (np.arange(n) % 7 != 0).astype(
            np.int64)})
    if z:
        table["z_nm"] = rng.uniform(-400, 400, n)
    path = folder / ("truth.csv" if csv else "truth.parquet")
    write_table(table, path, format="csv" if csv else None,
                meta=TableMeta(pixel_size_nm=PIXEL_NM))
    return store, path, movie, table
