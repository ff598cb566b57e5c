"""Exact DBSCAN of a large point set, cut in spatial blocks, over a Dask cluster.

The labels equal scikit-learn's, number for number:
``sklearn.cluster.DBSCAN(eps=eps, min_samples=min_samples).fit(points).labels_`` with
``points`` the scaled coordinates (:mod:`.coords`) in row order. scikit-learn's
``dbscan_inner`` visits the points in row order and starts a cluster at every core point
not yet labelled, numbering clusters 0, 1, 2, ...; a non-core point takes the label of the
first cluster that reaches it. Hence the rule applied here:

* a point is **core** when at least ``min_samples`` points, itself included, lie within
  ``eps`` (distance ``<= eps``: a point at exactly ``eps`` counts);
* clusters are the connected components of the core points, two linked within ``eps``;
  they are **numbered by their smallest core row**: the cluster whose first core point
  comes first is 0;
* a **border** (non-core) point within ``eps`` of core points of several clusters gets the
  smallest of their numbers (the cluster whose smallest core row is smallest);
* all other points are **noise**, -1.

The work, in two passes (kernels: :mod:`.dbscan_kernels`; boxes: :mod:`.blocks`):

1. one task per input partition copies its points to the blocks that own them or hold
   them in their halo (within ``2 eps`` of the box); one task per block finds the core
   points and the local clusters of its owned points and of the halo points within
   ``eps`` of its box (their core status is exact there), keeps them on its worker and
   sends the driver only the core points within ``eps`` of its boundary (row, local
   cluster) and each local cluster's smallest owned core row;
2. the driver joins the local clusters that share a row (:mod:`.unionfind`), numbers the
   global clusters by their smallest core row and sends each block its numbering; each
   block labels its owned points, and one task per input partition gathers its labels.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
from dask import delayed

from smlmscale.cluster.blocks import BlockPlan, plan_blocks
from smlmscale.cluster.coords import check_eps, scaled_coordinates
from smlmscale.cluster.dbscan_kernels import (NO_ROW, BlockSummary, block_pass1, block_pass2,
                                              halo_width)
from smlmscale.cluster.unionfind import set_labels, union_find
from smlmscale.errors import InputError

if TYPE_CHECKING:
    import dask.dataframe as dd
    import distributed

#: Sample rows (over all partitions) from which the blocks are planned.
SAMPLE_ROWS = 200_000
#: ... and at most one row in this many: the driver never holds the table.
SAMPLE_FRACTION = 8
_EMPTY_HINT = "check the input path and any filter applied before clustering"


def merge_blocks(summaries: Sequence[BlockSummary]) -> tuple[list[np.ndarray], int]:
    """Global cluster numbers of the local components of every block.

    Local components that share a row are one cluster; clusters are numbered by their
    smallest core row.

    Parameters
    ----------
    summaries : sequence of BlockSummary
        One per block, from :func:`~.dbscan_kernels.block_pass1`.

    Returns
    -------
    tuple
        ``(finals, n_clusters)``: for each block, the ``(n_components,)`` int64 label of
        each of its local components; and the number of clusters.
    """
    offset = np.concatenate(([0], np.cumsum([s.n_components for s in summaries])))
    rows = np.concatenate([s.shared_rows for s in summaries] + [np.empty(0, np.int64)])
    node = np.concatenate([s.shared_component + o for s, o in zip(summaries, offset)]
                          + [np.empty(0, np.int64)])
    order = np.argsort(rows, kind="stable")
    rows, node = rows[order], node[order]
    same = rows[1:] == rows[:-1]
    cluster, n_clusters = set_labels(union_find(int(offset[-1]), node[:-1][same],
                                                node[1:][same]))
    smallest = np.full(n_clusters, NO_ROW, np.int64)
    np.minimum.at(smallest, cluster, np.concatenate(
        [s.component_min for s in summaries] + [np.empty(0, np.int64)]))
    if (smallest == NO_ROW).any():
        raise RuntimeError("a cluster without an owned core point: blocks inconsistent")
    rank = np.empty(n_clusters, np.int64)
    rank[np.argsort(smallest, kind="stable")] = np.arange(n_clusters)
    final = rank[cluster]
    return [final[offset[b]:offset[b + 1]] for b in range(len(summaries))], n_clusters


def _check_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] not in (2, 3):
        raise InputError(f"points must be an (n, 2) or (n, 3) array, got {points.shape}")
    if not len(points):
        raise InputError("the table holds no localizations", hint=_EMPTY_HINT)
    bad = int((~np.isfinite(points).all(axis=1)).sum())
    if bad:
        raise InputError(f"{bad} rows have NaN or infinite coordinates",
                         hint="drop or repair them before clustering")
    return points


def dbscan_blocks_numpy(points: np.ndarray, *, eps: float, min_samples: int,
                        block_points: int = 500_000, plan: BlockPlan | None = None,
                        return_core: bool = False):
    """The block algorithm of :func:`dbscan_global`, serially in memory, without Dask.

    Parameters
    ----------
    points : numpy.ndarray
        ``(n, 2)`` or ``(n, 3)`` coordinates, nm (already scaled, :mod:`.coords`).
    eps : float
        Neighbourhood radius, nm.
    min_samples : int
        Neighbours (the point included) that make a core point.
    block_points : int, optional
        Wanted points per block.
    plan : BlockPlan, optional
        The boxes (any sizes; default: planned from the points for ``block_points``).
    return_core : bool, optional
        Also return the core flags.

    Returns
    -------
    numpy.ndarray or tuple
        ``(n,)`` int64 labels equal to scikit-learn's (see the module); with
        ``return_core``, ``(labels, core)``.

    Examples
    --------
    >>> dbscan_blocks_numpy(np.array([[0.0, 0], [50, 0], [900, 0]]), eps=80,
    ...                     min_samples=2).tolist()
    [0, 0, -1]
    """
    check_eps(eps, None, min_samples)
    _check_block_points(block_points)
    points = _check_points(points)
    n, d = points.shape
    if plan is None:
        plan = plan_blocks(points[::max(1, n // SAMPLE_ROWS)], n_points=n,
                           block_points=block_points)
    states, summaries = [], []
    for b, (own, halo) in enumerate(plan.route(points, halo=halo_width(eps))):
        rows = np.concatenate((own, halo))
        lo, hi = plan.box(b, d)
        state, summary = block_pass1(points[rows], rows, len(own), lo, hi, eps=eps,
                                     min_samples=min_samples)
        states.append(state)
        summaries.append(summary)
    finals, _ = merge_blocks(summaries)
    labels = np.full(n, -1, np.int64)
    core = np.zeros(n, bool)
    for state, final in zip(states, finals):
        rows, cluster, is_core = block_pass2(state, final)
        labels[rows], core[rows] = cluster, is_core
    return (labels, core) if return_core else labels


def _check_block_points(block_points: int) -> None:
    if isinstance(block_points, bool) or not isinstance(block_points, (int, np.integer)) \
            or block_points < 1:
        raise InputError(f"block_points must be an integer >= 1, got {block_points!r}")


# --- tasks -----------------------------------------------------------------------------

def _survey(part: pd.DataFrame, *, eps: float, eps_z: float | None, use_z: bool,
            sample_rows: int):
    """Rows, non-finite rows and an evenly spaced sample of one partition."""
    coords = scaled_coordinates(part, eps_nm=eps, eps_z_nm=eps_z, use_z=use_z)
    finite = np.isfinite(coords).all(axis=1)
    size = min(sample_rows, math.ceil(len(coords) / SAMPLE_FRACTION))
    take = np.unique(np.linspace(0, len(coords) - 1, size).astype(np.int64))
    sample = coords[take][finite[take]]
    return len(coords), int((~finite).sum()), sample


def _route(part: pd.DataFrame, first_row: int, plan, *, halo: float, eps: float,
           eps_z: float | None, use_z: bool):
    """The pieces of one partition for every block: ``(owned, halo)`` coordinates, rows."""
    coords = scaled_coordinates(part, eps_nm=eps, eps_z_nm=eps_z, use_z=use_z)
    return tuple((coords[own], own + first_row, coords[near], near + first_row)
                 for own, near in plan.route(coords, halo=halo))


def _pass1(lo: np.ndarray, hi: np.ndarray, eps: float, min_samples: int, *pieces):
    """Gather a block's pieces (owned points first) and run :func:`block_pass1`."""
    points = np.concatenate([p[0] for p in pieces] + [p[2] for p in pieces])
    rows = np.concatenate([p[1] for p in pieces] + [p[3] for p in pieces])
    n_owned = sum(len(p[1]) for p in pieces)
    return block_pass1(points, rows, n_owned, lo, hi, eps=eps, min_samples=min_samples)


def _pass2(state, final: np.ndarray, first_rows: np.ndarray):
    """Labels of a block's owned points, split by input partition."""
    rows, cluster, core = block_pass2(state, final)
    part = np.searchsorted(first_rows, rows, side="right") - 1
    order = np.argsort(part, kind="stable")
    cut = np.searchsorted(part[order], np.arange(len(first_rows) + 1))
    return tuple((rows[o] - first_rows[p], cluster[o], core[o])
                 for p, o in enumerate(np.split(order, cut[1:-1])))


def _assemble(first_row: int, n_rows: int, *pieces) -> pd.DataFrame:
    """One partition's labels: ``cluster`` (int64) and ``core`` (bool), global row index."""
    cluster = np.full(n_rows, -1, np.int64)
    core = np.zeros(n_rows, bool)
    for position, c, k in pieces:
        cluster[position], core[position] = c, k
    return pd.DataFrame({"cluster": cluster, "core": core},
                        index=pd.RangeIndex(first_row, first_row + n_rows))


def _count_noise(labels: pd.DataFrame) -> int:
    return int((labels["cluster"].to_numpy() < 0).sum())


def _attach(part: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    if len(part) != len(labels):
        raise InputError(f"a partition has {len(part)} rows, its labels {len(labels)}",
                         hint="attach the labels to the table they were computed on")
    return part.assign(cluster=labels["cluster"].to_numpy(), core=labels["core"].to_numpy())


@dataclass(frozen=True)
class GlobalDBSCAN:
    """The result of :func:`dbscan_global`; the labels stay on the workers.

    Attributes
    ----------
    labels : dask.dataframe.DataFrame
        One partition per input partition, persisted on the cluster: ``cluster`` (int64,
        -1 for noise) and ``core`` (bool), indexed by global row (position in the input).
        Held while this object lives (and its client is open).
    n_clusters, n_core, n_noise : int
        Clusters, core points, noise points.
    n_blocks : int
        Spatial blocks the work was cut in.
    n_shared : int
        Boundary core points the blocks reported to the driver (all it received besides
        per-cluster minima and counts).
    seconds : float
        Wall-clock time of :func:`dbscan_global`, s.
    """

    labels: dd.DataFrame
    n_clusters: int
    n_core: int
    n_noise: int
    n_blocks: int
    n_shared: int
    seconds: float

    def attach(self, points: dd.DataFrame) -> dd.DataFrame:
        """``points`` with the ``cluster`` (int64) and ``core`` (bool) columns, lazily.

        Parameters
        ----------
        points : dask.dataframe.DataFrame
            The table given to :func:`dbscan_global` (same partitions).
        """
        import dask.dataframe as dd

        parts, labels = points.to_delayed(), self.labels.to_delayed()
        if len(parts) != len(labels):
            raise InputError(f"the table has {len(parts)} partitions, the labels "
                             f"{len(labels)}", hint="attach the labels to the table they "
                             "were computed on")
        meta = points._meta.assign(cluster=np.empty(0, np.int64), core=np.empty(0, bool))
        return dd.from_delayed([delayed(_attach)(p, q) for p, q in zip(parts, labels)],
                               meta=meta, divisions=points.divisions)


def dbscan_global(points: dd.DataFrame, *, client: distributed.Client, eps_nm: float,
                  min_samples: int, eps_z_nm: float | None = None, use_z: bool = True,
                  block_points: int = 500_000) -> GlobalDBSCAN:
    """DBSCAN of a whole table, equal to scikit-learn's, block by block on ``client``.

    Parameters
    ----------
    points : dask.dataframe.DataFrame
        ``x_nm``, ``y_nm`` and optionally ``z_nm`` (nm). Row order (partitions
        concatenated) is the order scikit-learn would see.
    client : distributed.Client
        Where the tasks run.
    eps_nm : float
        Lateral neighbourhood radius, nm.
    min_samples : int
        Neighbours (the point included) that make a core point.
    eps_z_nm : float, optional
        Axial radius, nm (default ``eps_nm``): z is multiplied by ``eps_nm / eps_z_nm``.
    use_z : bool, optional
        Cluster in 3D when the table has ``z_nm``.
    block_points : int, optional
        Wanted points per block; a block task holds these and its halo.

    Returns
    -------
    GlobalDBSCAN
        Labels persisted on the cluster and counts; see :meth:`GlobalDBSCAN.attach`.

    Raises
    ------
    InputError
        Bad ``eps_nm``, ``eps_z_nm``, ``min_samples`` or ``block_points``; no ``x_nm`` or
        ``y_nm`` column; an empty table; NaN or infinite coordinates.
    """
    import dask.dataframe as dd

    start = time.perf_counter()
    check_eps(eps_nm, eps_z_nm, min_samples)
    _check_block_points(block_points)
    if isinstance(points, pd.DataFrame):
        points = dd.from_pandas(points, npartitions=1)
    missing = [c for c in ("x_nm", "y_nm") if c not in points.columns]
    if missing:
        raise InputError(f"the table has no {', '.join(missing)} column",
                         hint="cluster a localization table")
    columns = ["x_nm", "y_nm"] + (["z_nm"] if use_z and "z_nm" in points.columns else [])
    parts = points[columns].to_delayed()
    opts = dict(eps=eps_nm, eps_z=eps_z_nm, use_z=use_z)
    per_part = math.ceil(SAMPLE_ROWS / len(parts))
    survey = client.gather(client.compute(
        [delayed(_survey)(p, sample_rows=per_part, **opts) for p in parts]))
    lengths = np.array([s[0] for s in survey], np.int64)
    first_rows = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    n_bad = sum(s[1] for s in survey)
    if not lengths.sum():
        raise InputError("the table holds no localizations", hint=_EMPTY_HINT)
    if n_bad:
        raise InputError(f"{n_bad} rows have NaN or infinite coordinates",
                         hint="drop or repair them before clustering")
    sample = np.concatenate([s[2] for s in survey])
    weights = np.concatenate([np.full(len(s[2]), s[0] / max(len(s[2]), 1)) for s in survey])
    plan = plan_blocks(sample, n_points=int(lengths.sum()), block_points=block_points,
                       weights=weights)
    n_blocks = plan.n_blocks
    routed = [delayed(_route, nout=n_blocks)(p, int(f), plan, halo=halo_width(eps_nm), **opts)
              for p, f in zip(parts, first_rows)]
    passes = [delayed(_pass1, nout=2)(*plan.box(b, len(columns)), eps_nm, min_samples,
                                      *[r[b] for r in routed]) for b in range(n_blocks)]
    kept = client.persist([p[0] for p in passes] + [p[1] for p in passes])  # one graph
    states = kept[:n_blocks]
    summaries = client.gather(client.compute(kept[n_blocks:]))
    finals, n_clusters = merge_blocks(summaries)
    split = [delayed(_pass2, nout=len(parts))(s, f, first_rows)
             for s, f in zip(states, finals)]
    labels = client.persist([delayed(_assemble)(int(f), int(n), *[s[p] for s in split])
                             for p, (f, n) in enumerate(zip(first_rows, lengths))])
    del kept, states, split
    n_noise = sum(client.gather(client.compute(
        [delayed(_count_noise)(t) for t in labels])))
    divisions = None           # known when no partition is empty
    if lengths.all():
        divisions = tuple(int(f) for f in first_rows) + (int(lengths.sum()) - 1,)
    meta = pd.DataFrame({"cluster": np.empty(0, np.int64), "core": np.empty(0, bool)})
    return GlobalDBSCAN(
        labels=dd.from_delayed(labels, meta=meta, divisions=divisions),
        n_clusters=n_clusters, n_core=sum(s.n_core for s in summaries), n_noise=n_noise,
        n_blocks=n_blocks, n_shared=sum(len(s.shared_rows) for s in summaries),
        seconds=time.perf_counter() - start)


__all__ = ["GlobalDBSCAN", "dbscan_blocks_numpy", "dbscan_global", "merge_blocks"]
