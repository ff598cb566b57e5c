"""Tile sequences: overlapping ROI tiles of consecutive sections, chained into 3D volumes.

In serial-section STORM a synapse is cut into several sections; the ROI list has
one square tile per section around it. A *sequence* gathers the tiles of one
synapse so that its localizations can be clustered in 3D (:mod:`.sequence_dbscan`).

The rule (:func:`tile_sequences`)
---------------------------------
Build a graph whose nodes are the tiles and link two tiles when

- they lie in consecutive sections (``s`` and ``s + 1``) and their areas share at
  least ``min_overlap_px`` pixels, or
- they lie in the same section and their areas share at least one pixel.

The sequences are the connected components of this graph. Hence

- a chain (one tile per section, each overlapping the next) is one sequence;
- a split (one tile overlapping two in the next section) and a merge (two tiles
  overlapping one in the next section) end in one sequence, so a synapse cut
  across two tiles stays whole for DBSCAN;
- a gap (no overlapping tile in the next section) ends a sequence: sections 0-1
  and 3-4 give two sequences;
- every (section, pixel) belongs to at most one sequence, so no localization is
  claimed by two sequences (:func:`assign_sequences`).

Why not the seed's rules: its old ``TileSequencer`` builds one-to-one chains, so
the second tile of a split starts a sequence of its own and the split synapse is
clustered as two halves; its new ``TileSequencer`` follows each start tile
greedily to the single next-section tile with the nearest origin and removes it
from the pool, so the result depends on the order in which tiles are visited.
Connected components depend on neither.

The candidate pairs come from a grid hash: tile origins are binned into cells at
least as large as the largest tile, so two overlapping tiles lie in the same or
adjacent cells of the same or the next section; the work is linear in the
number of tiles times the local tile density, never a full ``n x n`` matrix.
Localizations find their tiles through the same grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from smlmscale.errors import InputError
from smlmscale.io.rois import validate_rois

#: Columns of :func:`tile_sequences`' output, in order.
SEQUENCE_COLUMNS = ("sequence", "roi", "section", "x", "y", "size",
                    "first_section", "last_section", "n_tiles")
#: :func:`assign_sequences`: the point lies in no tile of its section.
OUTSIDE = -1
#: :func:`assign_sequences`: the point duplicates one of a lower-id overlapping tile.
DUPLICATE = -2

_CHUNK = 1 << 18  # query rows per chunk of candidate pairs


def tile_sequences(rois: pd.DataFrame, *, min_overlap_px: int = 1) -> pd.DataFrame:
    """Group the tiles of an ROI list into sequences (see the module docstring).

    Parameters
    ----------
    rois : pandas.DataFrame
        An ROI list (columns ``roi, section, x, y, size``, px; checked with
        :func:`smlmscale.io.rois.validate_rois`).
    min_overlap_px : int, optional
        Least shared area, px (pixels, not a length), for tiles of consecutive
        sections to be linked. Tiles of the same section are linked whenever they
        share a pixel, whatever this value.

    Returns
    -------
    pandas.DataFrame
        One row per tile with :data:`SEQUENCE_COLUMNS` (int64): ``sequence``
        numbered from 0 in order of first appearance when the tiles are read by
        section, then roi id (i.e. by first section, then smallest roi id in that
        section); ``first_section``, ``last_section`` and ``n_tiles`` of its
        sequence. Sorted by sequence, section, roi; index reset.

    Raises
    ------
    InputError
        A bad ROI list, or ``min_overlap_px`` not an integer >= 1.

    Examples
    --------
    >>> rois = pd.DataFrame({"roi": [0, 1, 2], "section": [0, 1, 1],
    ...                      "x": [0, 5, 40], "y": [0, 5, 40], "size": 10})
    >>> tile_sequences(rois)[["sequence", "roi", "n_tiles"]].values.tolist()
    [[0, 0, 2], [0, 1, 2], [1, 2, 1]]
    """
    if isinstance(min_overlap_px, bool) or not isinstance(min_overlap_px, (int, np.integer)) \
            or min_overlap_px < 1:
        raise InputError(f"the least tile overlap must be an integer >= 1 px, "
                         f"got {min_overlap_px!r}", hint="the default is 1 px")
    tiles = validate_rois(rois)[["roi", "section", "x", "y", "size"]]
    tiles = tiles.sort_values(["section", "roi"], kind="stable", ignore_index=True)
    section, x, y, size = (tiles[c].to_numpy(np.int64) for c in ("section", "x", "y", "size"))
    n = len(tiles)
    first, second = _linked_pairs(section, x, y, size, int(min_overlap_px))
    graph = coo_matrix((np.ones(first.size, np.int8), (first, second)), shape=(n, n))
    _, labels = connected_components(graph.tocsr(), directed=False)
    # Renumber by first appearance in (section, roi) order, which the rows are in.
    _, first_row, dense = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first_row.size, np.int64)
    rank[np.argsort(first_row, kind="stable")] = np.arange(first_row.size)
    sequence = rank[dense.ravel()]
    tiles.insert(0, "sequence", sequence)
    grouped = tiles.groupby("sequence")["section"]
    tiles["first_section"] = grouped.transform("min").astype(np.int64)
    tiles["last_section"] = grouped.transform("max").astype(np.int64)
    tiles["n_tiles"] = grouped.transform("size").astype(np.int64)
    tiles = tiles.sort_values(["sequence", "section", "roi"], kind="stable", ignore_index=True)
    return tiles[list(SEQUENCE_COLUMNS)]


def sequence_summary(sequences: pd.DataFrame) -> pd.DataFrame:
    """One row per sequence: what is written as ``sequences.csv``.

    Parameters
    ----------
    sequences : pandas.DataFrame
        :func:`tile_sequences`' output.

    Returns
    -------
    pandas.DataFrame
        Columns ``sequence, first_section, last_section, n_tiles`` (int64) and
        ``rois``: the roi ids joined by spaces, by section then id. Sorted by
        sequence; index reset.

    Examples
    --------
    >>> rois = pd.DataFrame({"roi": [7, 3], "section": [0, 1], "x": 0, "y": 0, "size": 4})
    >>> sequence_summary(tile_sequences(rois)).values.tolist()
    [[0, 0, 1, 2, '7 3']]
    """
    _require(sequences, ("sequence", "roi", "section"), "the tile sequences",
             "give the output of tile_sequences")
    ordered = sequences.sort_values(["sequence", "section", "roi"], kind="stable")
    number, section = (ordered[c].to_numpy(np.int64) for c in ("sequence", "section"))
    names = [str(i) for i in ordered["roi"].to_numpy(np.int64).tolist()]
    first = np.flatnonzero(np.diff(number, prepend=-1) != 0) if number.size else number
    bounds = np.append(first, number.size)
    return pd.DataFrame({
        "sequence": number[first],
        "first_section": np.minimum.reduceat(section, first) if first.size else section,
        "last_section": np.maximum.reduceat(section, first) if first.size else section,
        "n_tiles": np.diff(bounds).astype(np.int64),
        "rois": [" ".join(names[a:b]) for a, b in zip(bounds[:-1], bounds[1:])],
    })


def assign_sequences(points: pd.DataFrame, sequences: pd.DataFrame, *,
                     pixel_size_nm: float) -> pd.Series:
    """The sequence of each localization: the sequence of the tile it lies in.

    A point lies in a tile when its ``section`` equals the tile's and its pixel
    ``floor(x_nm / p), floor(y_nm / p)`` lies in ``[x, x + size) x [y, y + size)``
    (pixel-corner origin: ``x_nm == x * p`` is inside, ``x_nm == (x + size) * p``
    is not). Tiles of one section that overlap are in one sequence, so the answer
    is unique.

    If ``points`` has a ``roi`` column (points predicted per ROI), a point in the
    overlap of two tiles of one section exists once per tile; only the copy whose
    ``roi`` is the lowest id among the tiles covering its pixel is kept. The other
    copies, and points tagged with an roi that is not that lowest-id covering
    tile, get :data:`DUPLICATE` (-2, "duplicate of an overlapping tile").

    Parameters
    ----------
    points : pandas.DataFrame
        Localizations with ``x_nm``, ``y_nm`` (nm, origin at the top-left corner
        of pixel (0, 0)), ``z_nm`` (nm; the sequences are clustered in 3D),
        ``section`` (integer) and optionally ``roi`` (integer).
    sequences : pandas.DataFrame
        :func:`tile_sequences`' output. Sections without points just get none.
    pixel_size_nm : float
        Pixel size ``p``, nm.

    Returns
    -------
    pandas.Series
        int64 named ``sequence``, aligned to ``points.index``: the sequence,
        :data:`OUTSIDE` (-1) for a point in no tile of its section (or with a
        non-finite coordinate), or :data:`DUPLICATE` (-2).

    Raises
    ------
    InputError
        ``points`` without ``section``, ``z_nm``, ``x_nm`` or ``y_nm``, or with a
        section that is not an integer; ``sequences`` without its columns; a pixel
        size that is not a finite number > 0.
    """
    _require(points, ("x_nm", "y_nm", "z_nm", "section"), "the localization table",
             "the sequence workflow clusters 3D localizations with a section column")
    _require(sequences, ("sequence", "roi", "section", "x", "y", "size"),
             "the tile sequences", "give the output of tile_sequences")
    try:
        p = float(pixel_size_nm)
    except (TypeError, ValueError):
        p = float("nan")
    if not (np.isfinite(p) and p > 0):
        raise InputError(f"the pixel size must be a finite number > 0 nm, got {pixel_size_nm!r}")
    result = np.full(len(points), OUTSIDE, np.int64)
    if not len(points) or not len(sequences):
        return pd.Series(result, index=points.index, name="sequence")
    point_section = _integer_points_column(points, "section")
    with np.errstate(invalid="ignore"):
        px = np.floor(points["x_nm"].to_numpy(np.float64) / p)
        py = np.floor(points["y_nm"].to_numpy(np.float64) / p)
    valid = np.isfinite(px) & np.isfinite(py) & (px >= 0) & (py >= 0)

    tiles = sequences.sort_values(["section", "roi"], kind="stable")
    t_sec, t_x, t_y, t_size, t_roi, t_seq = (
        tiles[c].to_numpy(np.int64) for c in ("section", "x", "y", "size", "roi", "sequence"))
    valid &= (px < int((t_x + t_size).max())) & (py < int((t_y + t_size).max()))
    px = np.where(valid, px, 0).astype(np.int64)
    py = np.where(valid, py, 0).astype(np.int64)
    grid = _Grid(t_sec, t_x, t_y, t_size)
    cell = grid.cell
    # Lowest rank (= lowest roi, as ranks follow (section, roi)) of a covering tile.
    lowest = np.full(len(points), t_sec.size, np.int64)
    rows = np.flatnonzero(valid)
    for start in range(0, rows.size, _CHUNK):
        chunk = rows[start:start + _CHUNK]
        sec_rank, present = grid.section_rank(point_section[chunk])
        chunk, sec_rank = chunk[present], sec_rank[present]
        for dx in (-1, 0):
            for dy in (-1, 0):
                point, tile = grid.candidates(chunk, sec_rank, px[chunk] // cell + dx,
                                              py[chunk] // cell + dy)
                inside = ((t_x[tile] <= px[point]) & (px[point] < t_x[tile] + t_size[tile])
                          & (t_y[tile] <= py[point]) & (py[point] < t_y[tile] + t_size[tile]))
                np.minimum.at(lowest, point[inside], tile[inside])
    covered = lowest < t_sec.size
    result[covered] = t_seq[lowest[covered]]
    if "roi" in points.columns:
        roi = pd.to_numeric(points["roi"], errors="coerce").to_numpy(np.float64)
        duplicate = covered & (roi != t_roi[np.where(covered, lowest, 0)])
        result[duplicate] = DUPLICATE
    return pd.Series(result, index=points.index, name="sequence")


class _Grid:
    """Tiles hashed by (section rank, cell x, cell y): a dense table of cell offsets.

    The cell edge is the largest tile size ``S``, doubled until the table has at most
    ``max(2**22, 8 n)`` cells; any edge >= ``S`` keeps tiles that share a pixel in
    the same or adjacent cells.
    """

    def __init__(self, section, x, y, size):
        self.sections = np.unique(section)
        limit = max(1 << 22, 8 * section.size)
        self.cell = int(size.max())
        while True:
            self.nx = int(x.max()) // self.cell + 1
            self.ny = int(y.max()) // self.cell + 1
            if self.sections.size * self.nx * self.ny <= limit:
                break
            self.cell *= 2
        self.rank = np.searchsorted(self.sections, section)
        self.cell_x, self.cell_y = x // self.cell, y // self.cell
        keys = self._key(self.rank, self.cell_x, self.cell_y)
        self.order = np.argsort(keys, kind="stable")
        n_cells = self.sections.size * self.nx * self.ny
        self.start = np.zeros(n_cells + 1, np.int64)
        np.cumsum(np.bincount(keys, minlength=n_cells), out=self.start[1:])

    def _key(self, rank, cell_x, cell_y):
        return (rank * self.ny + cell_y) * self.nx + cell_x

    def section_rank(self, section):
        """Rank of each section among the tiles' sections, and whether it is one."""
        rank = np.searchsorted(self.sections, section)
        present = rank < self.sections.size
        present[present] = self.sections[rank[present]] == section[present]
        return rank, present

    def candidates(self, rows, rank, cell_x, cell_y):
        """``(row, tile)`` pairs: every tile in cell ``(rank, cell_x, cell_y)`` of each row."""
        ok = (cell_x >= 0) & (cell_x < self.nx) & (cell_y >= 0) & (cell_y < self.ny)
        rows = rows[ok]
        key = self._key(rank[ok], cell_x[ok], cell_y[ok])
        lo = self.start[key]
        counts = self.start[key + 1] - lo
        total = int(counts.sum())
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        return np.repeat(rows, counts), self.order[starts + np.arange(total)]


def _linked_pairs(section, x, y, size, min_overlap_px):
    """Edges ``(i, j)`` of the tile graph (rows in (section, roi) order), int64 arrays."""
    grid = _Grid(section, x, y, size)
    rank, cell_x, cell_y = grid.rank, grid.cell_x, grid.cell_y
    # The next section's rank when that section exists (s + 1, not just the next one listed).
    nxt = np.minimum(rank + 1, grid.sections.size - 1)
    has_next = (rank + 1 < grid.sections.size) & (grid.sections[nxt] == section + 1)
    firsts, seconds = [], []
    rows_all = np.arange(section.size)
    for d_sec, rows_ok, least in ((0, np.ones(section.size, bool), 1),
                                  (1, has_next, min_overlap_px)):
        rows_sel = rows_all[rows_ok]
        for start in range(0, rows_sel.size, _CHUNK):
            rows = rows_sel[start:start + _CHUNK]
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    a, b = grid.candidates(rows, rank[rows] + d_sec, cell_x[rows] + dx,
                                           cell_y[rows] + dy)
                    if d_sec == 0:
                        a, b = a[a < b], b[a < b]
                    wx = np.minimum(x[a] + size[a], x[b] + size[b]) - np.maximum(x[a], x[b])
                    wy = np.minimum(y[a] + size[a], y[b] + size[b]) - np.maximum(y[a], y[b])
                    keep = (wx > 0) & (wy > 0) & (wx * wy >= least)
                    firsts.append(a[keep])
                    seconds.append(b[keep])
    return np.concatenate(firsts), np.concatenate(seconds)


def _require(table, columns, what, hint):
    """InputError naming the columns of ``columns`` that ``table`` lacks."""
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"{what} must be a table, got {type(table).__name__}", hint=hint)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{what} has no {', '.join(missing)} column"
                         f"{'s' if len(missing) > 1 else ''}", hint=hint)


def _integer_points_column(points, name):
    """``points[name]`` as int64; InputError when a value is missing or not an integer."""
    values = pd.to_numeric(points[name], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"localization {row} has section {points[name].iloc[row]!r}, "
                         "not an integer", hint="give every localization its section index")
    return values.astype(np.int64)


__all__ = ["DUPLICATE", "OUTSIDE", "SEQUENCE_COLUMNS", "assign_sequences", "sequence_summary",
           "tile_sequences"]
