"""Exact DBSCAN inside one block: NumPy/SciPy kernels, no Dask, no paths.

The points of a block are binned in cubic cells of side ``eps / sqrt(d)`` (a hair less,
:class:`~.blocks.CellGrid`): two points of one cell are always neighbours. This gives the
three steps their speed:

* **core points** (:func:`core_points`): a point whose cell holds ``min_samples`` points
  is core without a distance being computed. For the others, the cells entirely within
  ``eps`` count whole, and the cells that straddle ``eps`` are visited nearest first,
  their distances computed, until the count reaches ``min_samples`` or no longer can.
* **clusters** (:func:`core_components`): the core points of one cell are connected. Two
  neighbouring cells are connected when their representatives (the core points nearest
  the cell centres) are neighbours; the pairs of cells this leaves in different
  components are decided by all their pairwise distances.
* **border points** (:func:`neighbour_pairs`): the core neighbours of the non-core points.

:func:`block_pass1` and :func:`block_pass2` are the two passes of :mod:`.dbscan_global`
on one block; run on a single block holding every point, they are plain DBSCAN.

Distances are compared as scikit-learn and :class:`scipy.spatial.cKDTree` compare them:
the squared Euclidean distance, summed axis by axis, ``<= eps ** 2`` (a point at exactly
``eps`` is a neighbour). Coordinates are nm (z scaled, :mod:`.coords`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from smlmscale.cluster.blocks import BOUND_TOL, REACH, CellGrid

#: Candidate pairs expanded at once (bounds the memory of the distance computations).
CHUNK = 1 << 20


def _expand(first: np.ndarray, count: np.ndarray):
    """For runs ``[first, first + count)``: the run of every element and its position."""
    run = np.repeat(np.arange(len(count)), count)
    position = np.arange(len(run)) - np.repeat(np.cumsum(count) - count, count) + first[run]
    return run, position


def _squared_distances(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances between rows ``a`` and ``b``, summed axis by axis (as sklearn)."""
    out = np.zeros(len(a))
    for axis in range(points.shape[1]):
        diff = points[a, axis] - points[b, axis]
        out += diff * diff
    return out


def _by_cell(grid: CellGrid, points: np.ndarray, source: np.ndarray, stencil: np.ndarray):
    """Chunks of ``source`` in cell order: ``(position, index, cells, lo2, hi2)``, i.e.
    positions in ``source``, point indices, the ``(k, m)`` cells at the offsets ``stencil``
    from each point (-1: empty) and :meth:`CellGrid.box_bounds`."""
    step = max(1, CHUNK // len(stencil))
    by_cell = np.argsort(grid.cell[source], kind="stable")
    for begin in range(0, len(source), step):
        position = by_cell[begin:begin + step]
        index = source[position]
        own, inverse = np.unique(grid.cell[index], return_inverse=True)
        cells = grid.neighbours(own, stencil)[:, inverse]
        yield (position, index, cells) + grid.box_bounds(points, index, stencil)


def neighbour_pairs(points: np.ndarray, grid: CellGrid, source: np.ndarray,
                    target_sorted: np.ndarray, target_starts: np.ndarray):
    """Pairs (source point, target point) within ``eps``, found through the cells.

    Parameters
    ----------
    points : numpy.ndarray
        ``(n, d)`` coordinates, nm.
    grid : CellGrid
        Cells of ``points``.
    source : numpy.ndarray
        Indices of the points whose neighbours are wanted.
    target_sorted, target_starts : numpy.ndarray
        The candidate neighbours, sorted by cell, and the ``(n_cells + 1,)`` offsets of
        each cell's run in ``target_sorted``.

    Returns
    -------
    tuple
        ``(i, j)``: position in ``source`` and index of the target of each pair.
    """
    eps2 = grid.eps ** 2
    found_i, found_j = [], []
    for position, index, cells, lo2, _ in _by_cell(grid, points, source, grid.stencil):
        count = np.where(cells >= 0, target_starts[cells + 1] - target_starts[cells], 0)
        count[lo2 > eps2 * (1 + BOUND_TOL)] = 0
        k, j = np.nonzero(count)
        first, count = target_starts[cells[k, j]], count[k, j]
        for lo, hi in _chunks(count):
            run, pos = _expand(first[lo:hi], count[lo:hi])
            src = j[lo:hi][run]
            tgt = target_sorted[pos]
            hit = _squared_distances(points, index[src], tgt) <= eps2
            found_i.append(position[src[hit]])
            found_j.append(tgt[hit])
    return _cat(found_i), _cat(found_j)


def _chunks(sizes: np.ndarray):
    """Slices ``(lo, hi)`` of ``sizes`` that sum to about :data:`CHUNK` each."""
    total = np.cumsum(sizes)
    lo = 0
    while lo < len(sizes):
        base = total[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(total, base + CHUNK, side="right")))
        yield lo, hi
        lo = hi


def _cat(parts: list) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)


def core_points(points: np.ndarray, grid: CellGrid, query: np.ndarray, *,
                min_samples: int) -> np.ndarray:
    """Which of the points ``query`` are core: ``min_samples`` points (itself included)
    within ``eps``, counted among all ``points``.

    A point whose cell holds ``min_samples`` points is core. For the others, the cells
    entirely within ``eps`` count whole; the cells that straddle ``eps`` are visited
    nearest first, their distances computed, until the count is decided.

    Parameters
    ----------
    points : numpy.ndarray
        ``(n, d)`` coordinates, nm.
    grid : CellGrid
        Cells of ``points``.
    query : numpy.ndarray
        Indices of the points to decide.
    min_samples : int
        Neighbours (the point included) that make a core point.

    Returns
    -------
    numpy.ndarray
        ``(len(query),)`` bool.
    """
    eps2 = grid.eps ** 2
    core = grid.counts[grid.cell[query]] >= min_samples
    stencil = grid.stencil
    todo = np.flatnonzero(~core)
    # first the cells next to the point's own, the only ones that can be entirely near
    adjacent = stencil[np.abs(stencil).max(axis=1) <= 1]
    for position, index, cells, _, hi2 in _by_cell(grid, points, query[todo], adjacent):
        full = (hi2 <= eps2 * (1 - BOUND_TOL)) & (cells >= 0)
        core[todo[position]] = np.where(full, grid.counts[cells], 0).sum(axis=0) >= min_samples
    todo = np.flatnonzero(~core)
    for position, index, cells, lo2, hi2 in _by_cell(grid, points, query[todo], stencil):
        count = np.where(cells >= 0, grid.counts[cells], 0)
        full = hi2 <= eps2 * (1 - BOUND_TOL)
        partial = (lo2 <= eps2 * (1 + BOUND_TOL)) & ~full & (count > 0)
        lower = np.where(full, count, 0).sum(axis=0)
        rest = np.where(partial, count, 0).sum(axis=0)
        alive = np.flatnonzero((lower < min_samples) & (lower + rest >= min_samples))
        for row in range(len(cells)):
            p = alive[partial[row, alive]]
            if not len(p):
                continue
            cell = cells[row, p]
            for lo, hi in _chunks(grid.counts[cell]):
                run, pos = _expand(grid.starts[cell[lo:hi]], grid.counts[cell[lo:hi]])
                d2 = _squared_distances(points, index[p[lo:hi][run]], grid.order[pos])
                lower[p[lo:hi]] += np.bincount(run[d2 <= eps2], minlength=hi - lo)
            rest[p] -= count[row, p]
            alive = alive[(lower[alive] < min_samples)
                          & (lower[alive] + rest[alive] >= min_samples)]
            if not len(alive):
                break
        core[todo[position]] = lower >= min_samples
    return core


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int64)


def core_components(points: np.ndarray, grid: CellGrid, core: np.ndarray):
    """Connected components of the core points, two linked when within ``eps``.

    Parameters
    ----------
    points : numpy.ndarray
        ``(n, d)`` coordinates, nm.
    grid : CellGrid
        Cells of ``points``.
    core : numpy.ndarray
        Indices of the core points.

    Returns
    -------
    tuple
        ``(component, n_components)``: ``(len(core),)`` int64 component of each core
        point, numbered 0..n_components-1.
    """
    if not len(core):
        return np.empty(0, np.int64), 0
    eps2 = grid.eps ** 2
    by_cell = np.argsort(grid.cell[core], kind="stable")
    members = core[by_cell]                                         # core points by cell
    member_cell = grid.cell[members]
    cut = np.flatnonzero(member_cell[1:] != member_cell[:-1]) + 1
    member_starts = np.concatenate(([0], cut, [len(members)]))
    cells = member_cell[member_starts[:-1]]                        # the core cells
    node = np.repeat(np.arange(len(cells)), np.diff(member_starts))
    node_of_cell = np.full(grid.n_cells, -1, np.int64)
    node_of_cell[cells] = np.arange(len(cells))
    # representative of each core cell: its core point nearest the cell centre
    centre = grid.origin + (grid.cell_coords[cells] - REACH + 0.5) * grid.side
    to_centre = ((points[members] - centre[node]) ** 2).sum(axis=1)
    nearest = np.minimum.reduceat(to_centre, member_starts[:-1])
    first = np.flatnonzero(to_centre == nearest[node])
    rep = members[first[np.searchsorted(node[first], np.arange(len(cells)))]]
    # candidate pairs of core cells, each unordered pair once (a few offsets at a time)
    stencil = grid.stencil
    half = stencil[[tuple(o) > (0,) * len(o) for o in stencil.tolist()]]
    a_parts, b_parts, linked = [], [], []
    for rows in np.array_split(np.arange(len(half)), math.ceil(len(half) / 8)):
        other = grid.neighbours(cells, half[rows])
        other = np.where(other >= 0, node_of_cell[other], -1)
        found = other >= 0
        a_parts.append(np.nonzero(found)[1].astype(np.int32))
        b_parts.append(other[found].astype(np.int32))
        linked.append(_squared_distances(points, rep[a_parts[-1]], rep[b_parts[-1]]) <= eps2)
    a, b, linked = (np.concatenate(x) for x in (a_parts, b_parts, linked))
    label = _components(len(cells), a[linked], b[linked])
    open_ = np.flatnonzero(label[a] != label[b])
    if len(open_):
        a, b = a[open_], b[open_]
        size = np.diff(member_starts)
        na, nb = size[a], size[b]
        hits = []
        for lo, hi in _chunks(na * nb):
            if hi == lo + 1 and na[lo] * nb[lo] > CHUNK:   # two crowded cells: a tree
                pa = members[member_starts[a[lo]]:member_starts[a[lo] + 1]]
                pb = members[member_starts[b[lo]]:member_starts[b[lo] + 1]]
                if cKDTree(points[pa]).count_neighbors(cKDTree(points[pb]), grid.eps):
                    hits.append(np.array([lo]))
                continue
            pair, r = _expand(np.zeros(hi - lo, np.int64), (na * nb)[lo:hi])
            pa = members[member_starts[a[lo:hi][pair]] + r // nb[lo:hi][pair]]
            pb = members[member_starts[b[lo:hi][pair]] + r % nb[lo:hi][pair]]
            hit = np.unique(pair[_squared_distances(points, pa, pb) <= eps2])
            hits.append(hit + lo)
        hit = _cat(hits)
        merged = _components(int(label.max()) + 1, label[a[hit]], label[b[hit]])
        label = merged[label]
    component = np.empty(len(core), np.int64)
    component[by_cell] = label[node]
    return component, int(label.max()) + 1


#: Relative slack of the block-boundary bands (a few ulps of any coordinate in practice).
SLACK = 1e-6
#: "No owned core point" in :attr:`BlockSummary.component_min`.
NO_ROW = np.iinfo(np.int64).max


def halo_width(eps: float) -> float:
    """Width of the band of points copied around a block, nm: ``2 eps`` and a slack."""
    return 2 * eps * (1 + 2 * SLACK)


@dataclass(frozen=True)
class BlockLabels:
    """What a block keeps between the two passes (on the worker).

    ``rows``: global row of each owned point; ``component``: local component of each
    owned core point, -1 for the others; ``border_point``, ``border_component``: pairs
    (position among the owned points, local component of a core neighbour) of the owned
    non-core points.
    """

    rows: np.ndarray
    component: np.ndarray
    border_point: np.ndarray
    border_component: np.ndarray


@dataclass(frozen=True)
class BlockSummary:
    """What a block sends the driver: the links to other blocks, and small counts.

    ``shared_rows``, ``shared_component``: global row and local component of every core
    point that another block can see (within ``eps`` of the box boundary, inside or out);
    ``component_min``: smallest global row of the owned core points of each local
    component (:data:`NO_ROW` if none); ``n_owned``, ``n_core``: owned points, owned core.
    """

    shared_rows: np.ndarray
    shared_component: np.ndarray
    component_min: np.ndarray
    n_owned: int
    n_core: int

    @property
    def n_components(self) -> int:
        return len(self.component_min)


def block_pass1(points: np.ndarray, rows: np.ndarray, n_owned: int, lo: np.ndarray,
                hi: np.ndarray, *, eps: float, min_samples: int):
    """Core points and local clusters of one block.

    Parameters
    ----------
    points : numpy.ndarray
        ``(n, d)`` scaled coordinates (nm): the owned points first, then the halo (all
        points within :func:`halo_width` of the box).
    rows : numpy.ndarray
        ``(n,)`` int64 global row of each point.
    n_owned : int
        Number of owned points.
    lo, hi : numpy.ndarray
        ``(d,)`` corners of the box, nm (``±inf``: unbounded).
    eps : float
        Neighbourhood radius, nm.
    min_samples : int
        Neighbours (the point included) that make a core point.

    Returns
    -------
    tuple
        ``(BlockLabels, BlockSummary)``.
    """
    empty = np.empty(0, np.int64)
    if not n_owned:
        return (BlockLabels(empty, empty, empty, empty),
                BlockSummary(empty, empty, empty, 0, 0))
    outside = np.maximum(np.maximum(lo - points, points - hi), 0.0).max(axis=1)
    local = np.flatnonzero(outside <= eps * (1 + SLACK))   # core status exact here
    grid = CellGrid(points, eps)
    core = local[core_points(points, grid, local, min_samples=min_samples)]
    component, n_components = core_components(points, grid, core)
    depth = np.minimum(points[core] - lo, hi - points[core]).min(axis=1)
    shared = (core >= n_owned) | (depth <= eps * (1 + 2 * SLACK))
    owned = core < n_owned
    component_min = np.full(n_components, NO_ROW, np.int64)
    np.minimum.at(component_min, component[owned], rows[core[owned]])
    component_of = np.full(len(points), -1, np.int64)
    component_of[core] = component
    # the owned non-core points: the components of their core neighbours
    source = np.flatnonzero(component_of[:n_owned] < 0)
    by_cell = np.argsort(grid.cell[core], kind="stable")
    starts = np.searchsorted(grid.cell[core][by_cell], np.arange(grid.n_cells + 1))
    i, j = neighbour_pairs(points, grid, source, core[by_cell], starts)
    pair = np.unique(source[i] * max(n_components, 1) + component_of[j])
    labels = BlockLabels(rows[:n_owned].astype(np.int64), component_of[:n_owned],
                         pair // max(n_components, 1), pair % max(n_components, 1))
    summary = BlockSummary(rows[core[shared]].astype(np.int64), component[shared],
                           component_min, n_owned, int(owned.sum()))
    return labels, summary


def block_pass2(labels: BlockLabels, final: np.ndarray):
    """Final labels of the owned points of one block.

    Parameters
    ----------
    labels : BlockLabels
        From :func:`block_pass1`.
    final : numpy.ndarray
        ``(n_components,)`` int64 global label of each local component.

    Returns
    -------
    tuple
        ``(rows, cluster, core)``: global rows, int64 labels (-1: noise), bool core flags.
        A border point gets the smallest label among its core neighbours' clusters.
    """
    core = labels.component >= 0
    cluster = np.where(core, final[np.maximum(labels.component, 0)], -1) if len(final) \
        else np.full(len(core), -1, np.int64)
    best = np.full(len(core), NO_ROW, np.int64)
    np.minimum.at(best, labels.border_point, final[labels.border_component])
    cluster = np.where(best < NO_ROW, best, cluster).astype(np.int64)
    return labels.rows, cluster, core


__all__ = ["BlockLabels", "BlockSummary", "NO_ROW", "SLACK", "block_pass1",
           "block_pass2", "core_components", "core_points", "halo_width", "neighbour_pairs"]
