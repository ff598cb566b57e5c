"""Space cut in axis-aligned boxes for DBSCAN: blocks (one task each) and cells (in a task).

**Blocks** (:func:`plan_blocks`, :class:`BlockPlan`) hold about equal numbers of points.
Space (the scaled coordinates of :mod:`.coords`, nm) is cut along x into slabs at
quantiles of a sample of the points, then every slab along y at the quantiles of the
sample points it holds: a 2D grid of boxes, unbounded in z (SMLM volumes are a few µm
deep, so cutting z buys little). Intervals are half-open, ``[lo, hi)``, and the first and
last boxes of each axis reach to -inf and +inf, so every point has exactly one owner.

A block task gets its owned points and a halo: the points within ``halo`` of its box on
every axis (an L-infinity band, a superset of the Euclidean one). Boxes may be of any
size, narrower than the halo included.

**Cells** (:class:`CellGrid`) bin the points of one block in cubes of side
``eps / sqrt(d)``, a hair less: two points of one cell are within ``eps`` of each other,
and a neighbour of a point lies at most :data:`REACH` cells away on each axis.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from smlmscale.errors import InputError


@dataclass(frozen=True)
class BlockPlan:
    """Boxes that tile space: slabs along x, each cut along y.

    Parameters
    ----------
    x_edges : numpy.ndarray
        Interior slab boundaries along x, nm, increasing; ``len(x_edges) + 1`` slabs.
    y_edges : tuple of numpy.ndarray
        For each slab, its interior block boundaries along y, nm, increasing.

    Examples
    --------
    >>> plan = BlockPlan(np.array([0.0]), (np.array([]), np.array([5.0])))
    >>> plan.n_blocks, plan.owner(np.array([[-1.0, 9.0], [0.0, 5.0], [3.0, 4.9]])).tolist()
    (3, [0, 2, 1])
    """

    x_edges: np.ndarray
    y_edges: tuple

    @property
    def n_blocks(self) -> int:
        return sum(len(edges) + 1 for edges in self.y_edges)

    @property
    def first_block(self) -> np.ndarray:
        """``(n_slabs + 1,)`` number of the first block of each slab (and the total)."""
        return np.concatenate(([0], np.cumsum([len(e) + 1 for e in self.y_edges])))

    def box(self, block: int, ndim: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners of a block, nm, ``(ndim,)`` each (``±inf``: unbounded)."""
        slab = int(np.searchsorted(self.first_block, block, side="right")) - 1
        row = block - int(self.first_block[slab])
        lo = np.full(ndim, -np.inf)
        hi = np.full(ndim, np.inf)
        x = np.concatenate(([-np.inf], self.x_edges, [np.inf]))
        y = np.concatenate(([-np.inf], self.y_edges[slab], [np.inf]))
        lo[:2], hi[:2] = (x[slab], y[row]), (x[slab + 1], y[row + 1])
        return lo, hi

    def owner(self, points: np.ndarray) -> np.ndarray:
        """The block that owns each point of ``(n, d)`` ``points``, int64."""
        slab = np.searchsorted(self.x_edges, points[:, 0], side="right")
        out = np.empty(len(points), np.int64)
        for s, edges in enumerate(self.y_edges):
            mine = slab == s
            out[mine] = self.first_block[s] + np.searchsorted(edges, points[mine, 1],
                                                              side="right")
        return out

    def route(self, points: np.ndarray, *, halo: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """Split points among the blocks.

        Parameters
        ----------
        points : numpy.ndarray
            ``(n, d)`` coordinates, nm.
        halo : float
            Width of the band around each box whose points are copied to it, nm.

        Returns
        -------
        list of tuple
            For every block, ``(owned, halo)``: increasing row numbers of its own points
            and of the other points within ``halo`` of its box.
        """
        owner = self.owner(points)
        x, y = points[:, 0], points[:, 1]
        xs = np.concatenate(([-np.inf], self.x_edges, [np.inf]))
        row_parts, block_parts = [], []
        for s, edges in enumerate(self.y_edges):
            near = np.flatnonzero((x >= xs[s] - halo) & (x <= xs[s + 1] + halo))
            first = np.searchsorted(edges, y[near] - halo, side="right")
            last = np.searchsorted(edges, y[near] + halo, side="right")
            reach = last - first + 1
            rows = np.repeat(near, reach)
            step = np.arange(len(rows)) - np.repeat(np.cumsum(reach) - reach, reach)
            blocks = self.first_block[s] + np.repeat(first, reach) + step
            copy = owner[rows] != blocks
            row_parts.append(rows[copy])
            block_parts.append(blocks[copy])
        halo_rows = np.concatenate(row_parts) if row_parts else np.empty(0, np.int64)
        halo_blocks = np.concatenate(block_parts) if block_parts else np.empty(0, np.int64)
        return [(own, halo_rows[hb]) for own, hb in
                zip(_groups(owner, self.n_blocks), _groups(halo_blocks, self.n_blocks))]


def _groups(block: np.ndarray, n_blocks: int) -> list[np.ndarray]:
    """The indices of each block's entries, increasing, for ``block`` in ``0..n_blocks``."""
    order = np.argsort(block, kind="stable")
    cut = np.searchsorted(block[order], np.arange(n_blocks + 1))
    return [order[cut[b]:cut[b + 1]] for b in range(n_blocks)]


def _quantile_edges(values: np.ndarray, weights: np.ndarray, parts: int) -> np.ndarray:
    """At most ``parts - 1`` distinct interior cut points at weighted quantiles."""
    if parts <= 1 or not len(values):
        return np.empty(0)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    targets = cumulative[-1] * np.arange(1, parts) / parts
    cut = values[order][np.minimum(np.searchsorted(cumulative, targets), len(values) - 1)]
    cut = np.unique(cut)
    return cut[cut > values.min()]      # a cut at the minimum would leave a block empty


def plan_blocks(sample: np.ndarray, *, n_points: int, block_points: int,
                weights: np.ndarray | None = None) -> BlockPlan:
    """Boxes holding about ``block_points`` of ``n_points`` points each.

    Parameters
    ----------
    sample : numpy.ndarray
        ``(m, d)`` coordinates (nm) of a sample of the points, or all of them.
    n_points : int
        Number of points the sample stands for.
    block_points : int
        Wanted points per block (owned, halo not counted).
    weights : numpy.ndarray, optional
        Points each sample point stands for (default: equal).

    Returns
    -------
    BlockPlan
        About ``ceil(n_points / block_points)`` blocks, fewer where the sample has
        repeated coordinates; one block when that is 1 or the sample is empty.
    """
    weights = np.ones(len(sample)) if weights is None else np.asarray(weights, np.float64)
    n_blocks = max(1, math.ceil(n_points / max(1, block_points)))
    if n_blocks == 1 or not len(sample):
        return BlockPlan(np.empty(0), (np.empty(0),))
    low, high = np.percentile(sample[:, :2], [1, 99], axis=0)
    width, height = np.maximum(high - low, 1e-9)
    n_slabs = int(np.clip(round(math.sqrt(n_blocks * width / height)), 1, n_blocks))
    x_edges = _quantile_edges(sample[:, 0], weights, n_slabs)
    slab = np.searchsorted(x_edges, sample[:, 0], side="right")
    per_slab = math.ceil(n_blocks / (len(x_edges) + 1))
    y_edges = tuple(_quantile_edges(sample[slab == s, 1], weights[slab == s], per_slab)
                    for s in range(len(x_edges) + 1))
    return BlockPlan(x_edges, y_edges)


#: Cells are this much (relative) narrower than ``eps / sqrt(d)``, so that two points of
#: one cell are within ``eps`` despite rounding.
CELL_SHRINK = 1e-6
#: Relative margin of the cell-box distance bounds (they only decide certain cases).
BOUND_TOL = 1e-7
#: Reach of the stencil, in cells: cells 3 apart are more than ``eps`` apart.
REACH = 2


class CellGrid:
    """Points binned in cells of side ``eps / sqrt(d) * (1 - CELL_SHRINK)``, nm.

    Parameters
    ----------
    points : numpy.ndarray
        ``(n, d)`` float64 coordinates, nm, ``d`` 2 or 3, ``n >= 1``.
    eps : float
        Neighbourhood radius, nm.

    Attributes
    ----------
    cell : numpy.ndarray
        ``(n,)`` cell number of each point; cells are numbered by increasing key.
    order, starts : numpy.ndarray
        Points sorted by cell, and the ``(n_cells + 1,)`` offsets of each cell in it.
    counts : numpy.ndarray
        Points per cell.
    """

    def __init__(self, points: np.ndarray, eps: float) -> None:
        n, d = points.shape
        if d not in (2, 3):       # REACH holds for d <= 3
            raise ValueError(f"cells are for 2D or 3D points, got {d} coordinates")
        self.eps = float(eps)
        self.side = self.eps / math.sqrt(d) * (1.0 - CELL_SHRINK)
        self.origin = points.min(axis=0)
        coords = np.floor((points - self.origin) / self.side).astype(np.int64) + REACH
        dims = coords.max(axis=0) + REACH + 1
        if math.prod(int(v) for v in dims) >= 2 ** 62:
            raise InputError(f"the points span too many cells of eps = {eps} nm",
                             hint="split them in smaller blocks or use a larger eps")
        self.strides = np.array([math.prod(int(v) for v in dims[i + 1:]) for i in range(d)],
                                np.int64)
        key = coords @ self.strides
        self.order = np.argsort(key, kind="stable")
        sorted_key = key[self.order]
        cut = np.flatnonzero(sorted_key[1:] != sorted_key[:-1]) + 1
        self.starts = np.concatenate(([0], cut, [n])).astype(np.int64)
        self.keys = sorted_key[self.starts[:-1]]
        self.counts = np.diff(self.starts)
        self.cell_coords = coords[self.order[self.starts[:-1]]]
        self.cell = np.empty(n, np.int64)
        self.cell[self.order] = np.repeat(np.arange(len(self.keys)), self.counts)
        size = math.prod(int(v) for v in dims)
        self._table = None
        if size <= 8 * n + (1 << 20):   # a direct key -> cell table is small enough
            self._table = np.full(size, -1, np.int64)
            self._table[self.keys] = np.arange(len(self.keys))

    @property
    def n_cells(self) -> int:
        return len(self.keys)

    @property
    def stencil(self) -> np.ndarray:
        """``(k, d)`` cell offsets whose cells can hold a neighbour, nearest first."""
        d = len(self.strides)
        grid = np.array(list(itertools.product(range(-REACH, REACH + 1), repeat=d)), np.int64)
        gap = np.maximum(np.abs(grid) - 1, 0)
        keep = (gap ** 2).sum(axis=1) * self.side ** 2 <= self.eps ** 2 * (1 + BOUND_TOL)
        grid = grid[keep]
        return grid[np.argsort((grid ** 2).sum(axis=1), kind="stable")]

    def neighbours(self, cells: np.ndarray, stencil: np.ndarray) -> np.ndarray:
        """``(len(stencil), len(cells))`` cells at the offsets from ``cells`` (sorted:
        faster), -1 where empty."""
        keys = (stencil @ self.strides)[:, None] + self.keys[cells][None, :]
        if self._table is not None:
            return self._table[keys]
        out = np.empty(keys.shape, np.int64)
        last = len(self.keys) - 1
        for row, needles in enumerate(keys):
            where = np.minimum(np.searchsorted(self.keys, needles), last)
            out[row] = np.where(self.keys[where] == needles, where, -1)
        return out

    def box_bounds(self, points: np.ndarray, index: np.ndarray, stencil: np.ndarray):
        """``(lo2, hi2)``, ``(len(stencil), len(index))`` each, nm^2: the least and the
        greatest squared distance from point ``index[j]`` to the cell ``stencil[i]`` away."""
        corner = self.origin + (self.cell_coords[self.cell[index]] - REACH) * self.side
        u = points[index] - corner                     # (m, d) position in the own cell
        lo2 = np.zeros((len(stencil), len(index)))
        hi2 = np.zeros((len(stencil), len(index)))
        faces = np.arange(-REACH, REACH + 1)[:, None] * self.side    # (5, 1) near faces
        for axis in range(u.shape[1]):
            x = u[:, axis][None, :]
            near = np.maximum(np.maximum(faces - x, x - faces - self.side), 0.0)
            far = np.maximum(np.abs(x - faces), np.abs(x - faces - self.side))
            row = stencil[:, axis] + REACH
            lo2 += (near * near)[row]
            hi2 += (far * far)[row]
        return lo2, hi2


__all__ = ["BOUND_TOL", "CELL_SHRINK", "REACH", "BlockPlan", "CellGrid", "plan_blocks"]
