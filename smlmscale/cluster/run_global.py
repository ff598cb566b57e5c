"""Exact DBSCAN of a whole table over a Dask cluster: the ``global`` mode of ``smlmscale cluster``.

The labels come from :func:`~smlmscale.cluster.dbscan_global.dbscan_global` (equal to
scikit-learn's on the whole table, held on the workers). Cluster properties need all
points of a cluster in one place, and a cluster may span input partitions and spatial
blocks, so they are computed after a shuffle:

1. one task per input partition keeps only its clustered rows (label >= 0) and only
   the columns the properties need (``x_nm, y_nm, z_nm, section``, the label and the
   row's place in the table); noise never moves;
2. Dask shuffles these rows on ``cluster`` into as many partitions as the input has
   (at most one per cluster): a hash shuffle that puts every cluster whole in one
   partition; on a distributed cluster it is Dask's peer-to-peer shuffle, which
   spills to disk, so no worker holds more than its share;
3. one task per shuffled partition sorts its rows by (cluster, table row), so each
   cluster's points are in table order, and computes ``cluster_properties`` (and the
   randomized properties); the driver receives one small table per partition and
   recomputes the nearest-cluster distances over all clusters.

The result equals ``cluster_properties`` of the whole labelled table, number for number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from dask import delayed

from smlmscale.cluster.dbscan_global import dbscan_global
from smlmscale.cluster.properties import cluster_properties
from smlmscale.cluster.randomize import randomized_properties
from smlmscale.cluster.run_common import ModeOutput, Progress, gather, renamed

if TYPE_CHECKING:
    import dask.dataframe as dd

_ROW = "_row"
_ROW_BITS = 40  # row key: partition << 40 | position (2**40 rows per partition at most)


def _clustered_rows(part: pd.DataFrame, index: int, columns: list[str]) -> pd.DataFrame:
    """The clustered rows of one labelled partition, property columns and a row key."""
    rows = np.flatnonzero(part["cluster"].to_numpy() >= 0)
    out = part[columns + ["cluster"]].iloc[rows].reset_index(drop=True)
    out[_ROW] = (np.int64(index) << _ROW_BITS) + rows.astype(np.int64)
    return out


def _properties(part: pd.DataFrame, thickness: float | None, repeats: int, seed: int):
    """``(properties, randomized or None)`` of the whole clusters of one shuffled partition."""
    part = part.sort_values(["cluster", _ROW], kind="stable", ignore_index=True)
    points = part.drop(columns=_ROW)
    props = cluster_properties(points, section_thickness_nm=thickness)
    randomized = randomized_properties(points, repeats=repeats, seed=seed,
                                       section_thickness_nm=thickness) if repeats else None
    return props, randomized


def cluster_globally(points: dd.DataFrame, *, client, settings, thickness: float | None,
                     counter: Progress) -> ModeOutput:
    """Label every point with :func:`dbscan_global`, then the properties (module notes).

    Parameters
    ----------
    points : dask.dataframe.DataFrame
        The canonical table (``x_nm``, ``y_nm``, optionally ``z_nm``, nm).
    client : distributed.Client
    settings : smlmscale.cluster.settings.ClusterSettings
        ``eps_nm``, ``eps_z_nm``, ``min_samples``, ``points_per_task`` (the points of a
        spatial block), ``randomize``, ``seed``.
    thickness : float or None
        Section thickness for the hulls, nm.
    counter : Progress
    """
    import dask.dataframe as dd

    points = points.map_partitions(renamed, meta=renamed(points._meta))
    counter.add(1)
    result = dbscan_global(points, client=client, eps_nm=settings.eps_nm,
                           min_samples=settings.min_samples, eps_z_nm=settings.eps_z_nm,
                           use_z=True, block_points=settings.points_per_task)
    counter.step()
    labelled = result.attach(points)
    output = labelled.drop(columns="core")
    columns = [c for c in ("x_nm", "y_nm", "z_nm", "section") if c in points.columns]
    if result.n_clusters:
        meta = _clustered_rows(labelled._meta, 0, columns)
        rows = dd.from_delayed([delayed(_clustered_rows)(p, i, columns)
                                for i, p in enumerate(labelled.to_delayed())], meta=meta)
        shuffled = rows.shuffle(on="cluster", npartitions=min(points.npartitions,
                                                               result.n_clusters))
        tasks = [delayed(_properties)(p, thickness, settings.randomize, settings.seed)
                 for p in shuffled.to_delayed()]
    else:
        empty = _clustered_rows(labelled._meta, 0, columns)
        tasks = [delayed(_properties)(empty, thickness, settings.randomize, settings.seed)]
    counter.add(len(tasks))
    results = gather(client, client.compute(tasks), counter)
    props = pd.concat([r[0] for r in results], ignore_index=True)
    randomized = pd.concat([r[1] for r in results], ignore_index=True) \
        if settings.randomize else None
    return ModeOutput(table=output, properties=props, randomized=randomized, sequences=None,
                      keep=[result],
                      counts={"clusters": result.n_clusters, "noise": result.n_noise,
                              "core": result.n_core, "blocks": result.n_blocks,
                              "tasks": len(tasks)})


__all__ = ["cluster_globally"]
