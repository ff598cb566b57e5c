"""Sequenced 3D DBSCAN over a Dask cluster: the ``sequences`` mode of ``smlmscale cluster``.

How the points reach the tasks
------------------------------
1. **Survey** (one task per input partition): every point gets its tile sequence
   (:func:`~smlmscale.cluster.sequences.assign_sequences`); the driver receives only
   the points per sequence present in the partition and per-section z statistics.
2. **Plan** (driver): sequences are numbered by first section, so batches are runs of
   consecutive sequence ids. ``n_tasks = max(ceil(sequences / sequences_per_task),
   ceil(points / points_per_task))``, cut at equal cumulative point counts, so the
   tasks hold about the same number of points (a sequence is never split).
3. **Route** (one task per partition): the partition is read again, assigned again,
   and split into one piece per task it feeds (coordinates, section, sequence and
   the row's position). No shuffle of whole rows: pieces carry only the columns
   DBSCAN and the properties need, a task gathers only the pieces of the partitions
   that hold its sequences, and it holds about ``points_per_task`` points.
4. **Cluster** (one task per batch): :func:`~smlmscale.cluster.sequence_dbscan.
   cluster_sequences`. The labelled batch stays on its worker (persisted); the driver
   gets the number of clusters of each sequence.
5. **Number** (driver): cluster ``c`` of sequence ``s`` becomes ``offset[s] + c`` with
   ``offset[s]`` the clusters of all sequences before ``s``: ids are global, and in
   sequence order. Points outside every tile (-1) or duplicates (-2) are noise (-1)
   and keep their ``sequence`` value.
6. **Properties** (one task per batch): cluster properties and, with ``randomize``,
   randomized properties of the batch's clusters, and the labels split by input
   partition; the driver gets the small property tables.
7. **Attach** (one task per partition, computed while writing): the partition is
   read a third time and gets its ``sequence`` and ``cluster`` columns, so the output
   rows are the input rows in input order. Reading a partition costs far less than
   DBSCAN, and no step holds more than a partition or a batch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from dask import delayed

from smlmscale.cluster.properties import cluster_properties
from smlmscale.cluster.randomize import randomized_properties
from smlmscale.cluster.run_common import (ModeOutput, Progress, gather, merge_section_stats,
                                          renamed, section_stats)
from smlmscale.cluster.sequence_dbscan import cluster_sequences
from smlmscale.cluster.sequences import DUPLICATE, OUTSIDE, assign_sequences, sequence_summary
from smlmscale.errors import InputError

if TYPE_CHECKING:
    import dask.dataframe as dd

_POSITION = "_position"


def plan_tasks(counts: np.ndarray, *, sequences_per_task: int, points_per_task: int
               ) -> np.ndarray:
    """Batches of consecutive sequences with about equal point counts.

    Parameters
    ----------
    counts : numpy.ndarray
        Points of every sequence, ``(n_sequences,)``.
    sequences_per_task, points_per_task : int
        The most sequences (holding points) and points a task should get on average.

    Returns
    -------
    numpy.ndarray
        int64 bounds ``b``: task ``k`` holds sequences ``b[k] <= s < b[k + 1]``; every
        task holds points.

    Examples
    --------
    >>> plan_tasks(np.array([5, 5, 0, 5, 5]), sequences_per_task=2,
    ...            points_per_task=100).tolist()
    [0, 2, 5]
    """
    counts = np.asarray(counts, np.int64)
    total, present = int(counts.sum()), int((counts > 0).sum())
    if not total:
        return np.zeros(1, np.int64)
    n_tasks = max(math.ceil(present / sequences_per_task), math.ceil(total / points_per_task))
    n_tasks = min(n_tasks, present)
    cumulative = np.cumsum(counts)
    targets = total * np.arange(1, n_tasks) / n_tasks
    cuts = np.searchsorted(cumulative, targets, side="left") + 1
    # Each cut follows the first sequence reaching its target, so every batch but the
    # last holds points; the last is empty only if trailing sequences are: merge it.
    bounds = np.unique(np.concatenate(([0], cuts, [counts.size]))).astype(np.int64)
    if bounds.size > 2 and cumulative[bounds[-2] - 1] == total:
        bounds = np.delete(bounds, -2)
    return bounds


# --- tasks -----------------------------------------------------------------------------

def _assign(part: pd.DataFrame, sequences: pd.DataFrame, pixel_size_nm: float) -> np.ndarray:
    return assign_sequences(part, sequences, pixel_size_nm=pixel_size_nm).to_numpy(np.int64)


def _survey(part: pd.DataFrame, sequences: pd.DataFrame, pixel_size_nm: float) -> dict:
    """Rows, points per sequence (sparse), per-section z statistics of one partition."""
    sequence = _assign(part, sequences, pixel_size_nm)
    ids, counts = np.unique(sequence[sequence >= 0], return_counts=True)
    return {"rows": len(part), "ids": ids, "counts": counts, "sections": section_stats(part),
            "outside": int((sequence == OUTSIDE).sum()),
            "duplicate": int((sequence == DUPLICATE).sum())}


def _route(part: pd.DataFrame, sequences: pd.DataFrame, pixel_size_nm: float,
           bounds: np.ndarray, tasks: tuple[int, ...]) -> tuple[pd.DataFrame, ...]:
    """One piece per task in ``tasks``: its points of this partition, in row order."""
    sequence = _assign(part, sequences, pixel_size_nm)
    rows = np.flatnonzero(sequence >= 0)
    task = np.searchsorted(bounds, sequence[rows], side="right") - 1
    columns = [c for c in ("x_nm", "y_nm", "z_nm", "section") if c in part.columns]
    pieces = []
    for k in tasks:
        mine = rows[task == k]
        piece = part[columns].iloc[mine].reset_index(drop=True)
        pieces.append(piece.assign(sequence=sequence[mine], **{_POSITION: mine}))
    return tuple(pieces)


def _cluster(eps_nm: float, min_samples: int, eps_z_nm: float | None,
             sources: tuple[int, ...], *pieces: pd.DataFrame):
    """DBSCAN per sequence of one batch: ``(labelled points, (ids, n_clusters))``."""
    points = pd.concat([piece.assign(_part=p) for p, piece in zip(sources, pieces)],
                       ignore_index=True)
    labels = cluster_sequences(points, eps_nm=eps_nm, min_samples=min_samples,
                               eps_z_nm=eps_z_nm)["cluster_in_sequence"].to_numpy()
    points["cluster_in_sequence"] = labels
    per_sequence = points.groupby("sequence", sort=True)["cluster_in_sequence"].max()
    return points, (per_sequence.index.to_numpy(np.int64),
                    (per_sequence.to_numpy(np.int64) + 1).clip(min=0))


def _finish(points: pd.DataFrame, first: int, offsets: np.ndarray,
            sources: tuple[int, ...], thickness: float | None, repeats: int, seed: int):
    """Global ids, properties (and randomized ones) of a batch, labels per partition."""
    local = points["cluster_in_sequence"].to_numpy()
    sequence = points["sequence"].to_numpy()
    cluster = np.where(local >= 0, offsets[sequence - first] + local, -1)
    table = points.assign(cluster=cluster)
    props = cluster_properties(table, section_thickness_nm=thickness)
    owner = table.loc[cluster >= 0].groupby("cluster", sort=True)["sequence"].first()
    props.insert(1, "sequence", owner.to_numpy(np.int64))
    randomized = randomized_properties(table, repeats=repeats, seed=seed,
                                       section_thickness_nm=thickness) if repeats else None
    part = points["_part"].to_numpy()
    position = points[_POSITION].to_numpy()
    pieces = tuple((position[part == p], cluster[part == p]) for p in sources)
    return ((props, randomized, int((cluster >= 0).sum())), *pieces)


def _attach(part: pd.DataFrame, sequences: pd.DataFrame, pixel_size_nm: float,
            *pieces: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    """The output partition: the input rows with ``sequence`` and ``cluster``."""
    part = renamed(part)
    cluster = np.full(len(part), -1, np.int64)
    for position, labels in pieces:
        cluster[position] = labels
    return part.assign(sequence=_assign(part, sequences, pixel_size_nm), cluster=cluster)


# --- orchestration ---------------------------------------------------------------------

def survey_sequences(points: dd.DataFrame, *, client, sequences: pd.DataFrame,
                     pixel_size_nm: float, counter: Progress) -> dict:
    """Run the survey; returns ``rows``, ``counts`` (per sequence), ``feeds`` (sequence
    ids of each partition), ``sections`` (merged statistics), ``outside``, ``duplicate``."""
    parts = points.to_delayed()
    table = delayed(sequences, pure=True)
    counter.add(len(parts))
    surveys = gather(client, client.compute(
        [delayed(_survey)(p, table, pixel_size_nm) for p in parts]), counter)
    counts = np.zeros(int(sequences["sequence"].max()) + 1, np.int64)
    for s in surveys:
        counts[s["ids"]] += s["counts"]
    return {"rows": sum(s["rows"] for s in surveys), "counts": counts,
            "feeds": [s["ids"] for s in surveys],
            "sections": merge_section_stats([s["sections"] for s in surveys]),
            "outside": sum(s["outside"] for s in surveys),
            "duplicate": sum(s["duplicate"] for s in surveys)}


def cluster_by_sequences(points: dd.DataFrame, *, client, sequences: pd.DataFrame,
                         survey: dict, settings, pixel_size_nm: float,
                         thickness: float | None, counter: Progress) -> ModeOutput:
    """Steps 2-7 of the module notes on a surveyed table (:func:`survey_sequences`)."""
    counts = survey["counts"]
    if not counts.sum():
        raise InputError(f"none of the {survey['rows']} localizations lies in an ROI tile "
                         "of its section", hint="check --pixel-size (the ROI list's pixel, "
                         f"here {pixel_size_nm:g} nm) and that the ROI list belongs to "
                         "this table")
    bounds = plan_tasks(counts, sequences_per_task=settings.sequences_per_task,
                        points_per_task=settings.points_per_task)
    n_tasks = bounds.size - 1
    feeds = [np.unique(np.searchsorted(bounds, ids, side="right") - 1) for ids in
             survey["feeds"]]
    sources = [tuple(p for p, f in enumerate(feeds) if k in f) for k in range(n_tasks)]
    parts, table = points.to_delayed(), delayed(sequences, pure=True)
    routes = {p: delayed(_route, nout=len(f))(parts[p], table, pixel_size_nm, bounds,
                                              tuple(f.tolist()))
              for p, f in enumerate(feeds) if len(f)}
    where = {p: {int(k): i for i, k in enumerate(f)} for p, f in enumerate(feeds)}
    opts = (settings.eps_nm, settings.min_samples, settings.eps_z_nm)
    passes = [delayed(_cluster, nout=2)(*opts, sources[k],
                                        *[routes[p][where[p][k]] for p in sources[k]])
              for k in range(n_tasks)]
    kept = client.persist([p[0] for p in passes] + [p[1] for p in passes])
    states = kept[:n_tasks]
    counter.add(2 * n_tasks)
    summaries = gather(client, client.compute(kept[n_tasks:]), counter)
    del kept, passes, routes
    n_clusters = np.zeros(counts.size, np.int64)
    for ids, n in summaries:
        n_clusters[ids] = n
    offsets = np.concatenate(([0], np.cumsum(n_clusters)[:-1])).astype(np.int64)
    finishes = [delayed(_finish, nout=len(sources[k]) + 1)(
        states[k], int(bounds[k]), offsets[bounds[k]:bounds[k + 1]], sources[k], thickness,
        settings.randomize, settings.seed) for k in range(n_tasks)]
    held = client.persist([piece for k, f in enumerate(finishes)
                           for piece in (f[i] for i in range(len(sources[k]) + 1))])
    del finishes, states          # the batches are released once their labels are split
    heads, labels, at = [], {}, 0
    for k in range(n_tasks):
        heads.append(held[at])
        for i, p in enumerate(sources[k]):
            labels.setdefault(p, []).append(held[at + 1 + i])
        at += len(sources[k]) + 1
    results = gather(client, client.compute(heads), counter)
    import dask.dataframe as dd

    meta = renamed(points._meta).assign(sequence=np.empty(0, np.int64),
                                        cluster=np.empty(0, np.int64))
    output = dd.from_delayed([delayed(_attach)(part, table, pixel_size_nm, *labels.get(p, ()))
                              for p, part in enumerate(parts)], meta=meta)
    props = pd.concat([r[0] for r in results], ignore_index=True)
    randomized = pd.concat([r[1] for r in results], ignore_index=True) \
        if settings.randomize else None
    summary = sequence_summary(sequences)
    summary["n_localizations"] = counts[summary["sequence"].to_numpy()]
    summary["n_clusters"] = n_clusters[summary["sequence"].to_numpy()]
    return ModeOutput(table=output, properties=props, randomized=randomized,
                      sequences=summary, keep=list(held),
                      counts={"clusters": int(n_clusters.sum()),
                              "clustered": sum(r[2] for r in results),
                              "sequences": int(summary["sequence"].size),
                              "sequences_with_points": int((counts > 0).sum()),
                              "in_sequences": int(counts.sum()),
                              "outside_rois": survey["outside"],
                              "duplicates": survey["duplicate"], "tasks": n_tasks})


__all__ = ["cluster_by_sequences", "plan_tasks", "survey_sequences"]
