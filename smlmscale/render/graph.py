"""Graph builder: a lazy table drawn partition by partition, the images summed pairwise.

``drawn(table, draw)`` applies ``draw`` (a kernel: one pandas partition -> an image or a
stack of images, NumPy) to every partition on the workers and sums the results in a
binary tree, so no worker holds more than a couple of images and the table never passes
through the driver. Each leaf also counts its rows and the rows whose ``x_nm``/``y_nm``
are not finite. Never computes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd


def _leaf(part: pd.DataFrame, draw: Callable[[pd.DataFrame], np.ndarray]) -> tuple:
    xy = part[["x_nm", "y_nm"]].to_numpy(np.float64)
    bad = int((~np.isfinite(xy).all(axis=1)).sum())
    return draw(part), len(part), bad


def _add(a: tuple, b: tuple) -> tuple:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def tree_sum(parts: list, add: Callable = np.add) -> object:
    """Delayed pairwise sum of delayed ``parts`` (depth ``ceil(log2(len(parts)))``)."""
    from dask import delayed

    if not parts:
        raise ValueError("nothing to sum")
    while len(parts) > 1:
        pairs = [delayed(add)(a, b) for a, b in zip(parts[0::2], parts[1::2])]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def drawn(table, draw: Callable[[pd.DataFrame], np.ndarray]) -> object:
    """Delayed ``(image, rows, not_finite)``: ``draw`` summed over ``table``'s partitions.

    Parameters
    ----------
    table : dask.dataframe.DataFrame
        With ``x_nm``, ``y_nm`` (nm) and whatever ``draw`` reads.
    draw : callable
        Picklable kernel ``pandas.DataFrame -> numpy.ndarray`` of one fixed shape; it must
        ignore rows with non-finite positions.

    Returns
    -------
    dask.delayed.Delayed
        The summed image, the row count and the count of rows with a NaN or infinite
        ``x_nm``/``y_nm``.
    """
    from dask import delayed

    leaves = [delayed(_leaf)(part, draw) for part in table.to_delayed()]
    return tree_sum(leaves, _add)


__all__ = ["drawn", "tree_sum"]
