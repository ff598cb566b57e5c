"""A summary of a localization table, computed partition by partition."""

from __future__ import annotations

import os
from typing import Any

import dask
import numpy as np
import pandas as pd

from smlmscale.io.tables.registry import DEFAULT_BLOCKSIZE, lazy_table, open_table

_AXES = ("x", "y", "z")


def _partition_stats(df: pd.DataFrame) -> tuple[int, np.ndarray, dict[str, tuple[float, float]]]:
    extent = {a: (float(df[f"{a}_nm"].min()), float(df[f"{a}_nm"].max()))
              for a in _AXES if f"{a}_nm" in df.columns and len(df)}
    return len(df), np.unique(df["frame"].to_numpy()), extent


def describe_table(path: str | os.PathLike, *, format: str | None = None,
                   pixel_size_nm: float | None = None,
                   blocksize: int | str = DEFAULT_BLOCKSIZE) -> dict[str, Any]:
    """Summarize a table without holding it in memory.

    Parameters
    ----------
    path : str or path-like
        The table file.
    format : str, optional
        Its format (default: from the extension / header).
    pixel_size_nm : float, optional
        Camera pixel size in nm, for pixel-based formats.
    blocksize : int or str, optional
        Bytes per partition while scanning.

    Returns
    -------
    dict
        ``path``, ``format``, ``rows``, ``frames`` (``first``, ``last``, ``count`` of
        distinct frames, 0-based), ``columns``, ``extent_nm`` (``x``, ``y`` and, if
        present, ``z``: ``[min, max]`` in nm), ``pixel_size_nm``, ``image_shape``
        (height, width px), ``n_frames`` and ``source`` from the metadata.

    Examples
    --------
    >>> describe_table("locs.parquet")["frames"]  # doctest: +SKIP
    {'first': 0, 'last': 9999, 'count': 9998}
    """
    source = open_table(path, format=format, pixel_size_nm=pixel_size_nm, blocksize=blocksize)
    table, meta = lazy_table(source), source.meta
    stats = dask.compute(*[dask.delayed(_partition_stats)(p) for p in table.to_delayed()])
    rows = sum(s[0] for s in stats)
    frames = np.unique(np.concatenate([s[1] for s in stats])) if stats else np.empty(0, int)
    extent: dict[str, list[float]] = {}
    for _, _, part in stats:
        for axis, (low, high) in part.items():
            old = extent.get(axis, [np.inf, -np.inf])
            extent[axis] = [min(old[0], low), max(old[1], high)]
    return {
        "path": os.fspath(path), "format": source.format, "rows": int(rows),
        "frames": {"first": int(frames[0]) if frames.size else None,
                   "last": int(frames[-1]) if frames.size else None, "count": int(frames.size)},
        "columns": list(table.columns),
        "extent_nm": {a: extent[a] for a in _AXES if a in extent},
        "pixel_size_nm": meta.pixel_size_nm,
        "image_shape": None if meta.image_shape is None else list(meta.image_shape),
        "n_frames": meta.n_frames, "source": meta.source,
    }


def describe_table_file(path: str | os.PathLike) -> dict[str, Any]:
    """:func:`describe_table` with ``"kind": "localization table"`` first (``smlmscale info``)."""
    return {"kind": "localization table", **describe_table(path)}
