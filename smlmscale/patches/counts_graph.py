"""The ``counts`` generator as a Dask graph: two passes over ROI tiles of a section stack.

The method is described in :mod:`smlmscale.patches.counts`. The graph:

- **Selection** (driver, the ROI list only): check the list against the stack,
  shuffle, cut to ``per_section`` ROIs per section.
- **Pass 1** (:meth:`Runner.compute`): one task per section holding selected
  ROIs; it reads the crop of the section that holds its tiles (and, with the
  estimate, the section's table rows) and returns per tile its largest value
  and its non-zero pixel count, and the section's fit moments (a few floats,
  :func:`~smlmscale.patches.counts_fit.combine_moments`). The driver drops the empty
  tiles, takes ``input_scale`` over the kept ones and fits the summed moments: a
  tile that is zero everywhere has no pixel > 0 and adds nothing to them, so the
  fit holds the kept tiles only.
- **Pass 2** (planned: the patch count is known): tasks of ``chunk`` consecutive
  kept ROIs (the last one fewer) each return ``(inputs, targets)`` in ROI-list
  order. A task depends on one small task per distinct section of its ROIs,
  which cuts that section's crop and table rows into pairs. Crops are taken
  from the stack's Delayed blocks (``movie.to_delayed()``, keys shared by all
  tasks), so one computation decompresses a chunk once, never once per ROI or
  per task, and a task holds tiles, not whole sections.

Table rows come from :meth:`FrameTable.rows` inside the tasks (``frame ==
section``); the whole table never reaches the driver.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.io.rois import (check_rois, drop_empty, first_per_section, shuffle_rois,
                               validate_rois)
from smlmscale.patches.base import Generated, Runner, auto_chunk, chunk_sizes
from smlmscale.patches.counts import CountsSettings, section_pairs, section_stats
from smlmscale.patches.counts_fit import fit_moments

_COLUMNS = ["frame", "x_nm", "y_nm"]


def select_rois(rois: pd.DataFrame, settings: CountsSettings) -> pd.DataFrame:
    """The list shuffled (if ``settings.shuffle``) and cut to ``settings.per_section``."""
    if settings.shuffle:
        rois = shuffle_rois(rois, settings.seed)
    if settings.per_section is not None:
        rois = first_per_section(rois, settings.per_section)
    return rois.reset_index(drop=True)


def _section_groups(rois: pd.DataFrame) -> list[tuple[int, np.ndarray]]:
    """``(section, positions)`` per distinct section, sections ascending, positions in order."""
    sections = rois["section"].to_numpy()
    order = np.argsort(sections, kind="stable")
    values, starts = np.unique(sections[order], return_index=True)
    bounds = list(starts[1:]) + [len(order)]
    return [(int(s), order[a:b]) for s, a, b in zip(values, starts, bounds)]


class _Sections:
    """The stack's chunks as Delayed blocks, optimized once: every crop of a section depends
    on the same block keys, so a computation reads each chunk once however many crops
    (ROI groups) use it. (A crop sliced from the dask array itself would be fused with
    its own copy of the chunk read.)"""

    def __init__(self, movie) -> None:
        self.blocks = movie.to_delayed()
        self.bounds = [np.concatenate([[0], np.cumsum(c)]) for c in movie.chunks]

    def crop(self, section: int, r0: int, r1: int, c0: int, c1: int):
        """Lazy ``movie[section, r0:r1, c0:c1]`` as a NumPy array."""
        import dask

        iz = int(np.searchsorted(self.bounds[0], section, side="right")) - 1
        iy = np.arange(np.searchsorted(self.bounds[1], r0, side="right") - 1,
                       np.searchsorted(self.bounds[1], r1, side="left"))
        ix = np.arange(np.searchsorted(self.bounds[2], c0, side="right") - 1,
                       np.searchsorted(self.bounds[2], c1, side="left"))
        grid = [[self.blocks[iz, i, j] for j in ix] for i in iy]
        z, y, x = (int(b[k]) for b, k in zip(self.bounds, (iz, iy[0], ix[0])))
        return dask.delayed(_crop_blocks, pure=True)(
            grid, section - z, (r0 - y, r1 - y), (c0 - x, c1 - x))


def _crop_blocks(grid: list, z: int, rows: tuple, cols: tuple):
    """``np.block(grid)[z, rows[0]:rows[1], cols[0]:cols[1]]`` (grid rows along y)."""
    image = grid[0][0] if len(grid) == 1 and len(grid[0]) == 1 else np.block(grid)
    return np.ascontiguousarray(image[z, rows[0]:rows[1], cols[0]:cols[1]])


def _crop(sections: _Sections, rois: pd.DataFrame, section: int, size: int):
    """The smallest crop of the section holding the tiles; its ``(row, column)`` origin."""
    x, y = rois["x"].to_numpy(), rois["y"].to_numpy()
    r0, c0 = int(y.min()), int(x.min())
    return sections.crop(section, r0, int(y.max()) + size, c0, int(x.max()) + size), (r0, c0)


def _rows(table, section: int):
    """Lazy rows of ``section`` (``frame == section``), or None when no part holds it."""
    if not table.overlapping(section, section + 1):
        return None
    return table.rows(section, section + 1, columns=_COLUMNS)


def _gather(parts: list, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate per-section pairs and put them back in ROI-list order."""
    inputs = np.concatenate([p[0] for p in parts])
    targets = np.concatenate([p[1] for p in parts])
    return inputs[order], targets[order]


def _pass1(sections: _Sections, table, rois: pd.DataFrame, *, size: int, pixel_size_nm: float,
           settings: CountsSettings, runner: Runner):
    """Per selected ROI its largest value and non-zero pixels; per section its moments."""
    import dask

    groups = _section_groups(rois)
    tasks = []
    for section, where in groups:
        members = rois.iloc[where]
        crop, origin = _crop(sections, members, section, size)
        rows = _rows(table, section) if settings.estimate else None
        tasks.append(dask.delayed(section_stats, pure=True)(
            crop, rows, origin=origin, xs=members["x"].to_numpy(), ys=members["y"].to_numpy(),
            size=size, pixel_size_nm=pixel_size_nm, degree=settings.degree,
            nn_size=settings.nn_size, estimate=settings.estimate))
    results = runner.compute(*tasks) if tasks else ()
    maxima, nonzero = np.zeros(len(rois)), np.zeros(len(rois), np.int64)
    for (_, where), (mx, nz, _) in zip(groups, results):
        maxima[where], nonzero[where] = mx, nz
    moments = [r[2] for r in results] if settings.estimate else None
    return maxima, nonzero, moments


def _pass2_task(sections: _Sections, table, rois: pd.DataFrame, *, size: int, pixel_size_nm: float,
                input_scale: float, coefficients, nn_size: int):
    """One lazy ``(inputs, targets)`` of the ROIs ``rois`` (in their order)."""
    import dask

    parts, positions = [], []
    for section, where in _section_groups(rois):
        members = rois.iloc[where]
        crop, origin = _crop(sections, members, section, size)
        parts.append(dask.delayed(section_pairs, pure=True)(
            crop, _rows(table, section), origin=origin, xs=members["x"].to_numpy(),
            ys=members["y"].to_numpy(), size=size, pixel_size_nm=pixel_size_nm,
            input_scale=input_scale, coefficients=coefficients, nn_size=nn_size))
        positions.append(where)
    order = np.argsort(np.concatenate(positions), kind="stable")
    return dask.delayed(_gather, pure=True)(parts, order)


def build_counts(movie, table, *, rois: pd.DataFrame, pixel_size_nm: float,
                 settings: CountsSettings, chunk: int = 0, runner: Runner | None = None,
                 rois_path: str | os.PathLike | None = None) -> Generated:
    """Plan and build the ``counts`` training pairs of a section stack.

    Runs pass 1 (tile maxima and fit moments) through ``runner``; returns the lazy
    pass 2 in planned mode.

    Parameters
    ----------
    movie : dask.array.Array
        The stack ``(sections, y, x)``, ideally one section per chunk (raw or
        preprocessed; any real dtype).
    table : smlmscale.patches.frames.FrameTable
        Localizations with ``frame``, ``x_nm``, ``y_nm`` (``frame`` = section).
    rois : pandas.DataFrame
        The ROI list (:func:`~smlmscale.io.rois.read_rois`); checked here against
        the stack's shape.
    pixel_size_nm : float
        Stack pixel, nm.
    settings : CountsSettings
    chunk : int
        Patches per patch-set chunk; 0 picks :func:`~smlmscale.patches.base.auto_chunk`.
    runner : Runner, optional
        Computes pass 1; default the current scheduler.
    rois_path : str or os.PathLike, optional
        The ROI list's file: named in errors, kept in the attributes.

    Returns
    -------
    Generated
        Tasks of ``chunk`` patches (the last fewer), ``sizes`` known, ``attrs`` with
        ``generator``, ``params``, ``upsampling`` (1), ``pixel_size_nm``,
        ``normalization`` (with ``input_scale``), ``estimate`` (the fit, or None) and
        ``rois`` (``path``, ``listed``, ``selected``, ``used``, ``dropped_empty``,
        ``size_px``). No task when every tile was empty.

    Raises
    ------
    InputError
        Bad ROI list or one that does not fit the stack, a table without ``x_nm`` /
        ``y_nm`` or with frames beyond the stack, a bad pixel size or chunk, too few
        pixels for the fit.
    """
    runner = runner if runner is not None else Runner()
    path = None if rois_path is None else os.fspath(rois_path)
    if movie.ndim != 3:
        raise InputError(f"counts patches need a section stack (z,y,x), got {movie.ndim} axes")
    if not (np.isfinite(pixel_size_nm) and pixel_size_nm > 0):
        raise InputError(f"the pixel size must be positive, got {pixel_size_nm}",
                         hint="pass --pixel-size")
    if int(chunk or 0) < 0:
        raise InputError(f"patches per chunk must be at least 1, got {chunk}")
    missing = [c for c in ("x_nm", "y_nm") if c not in table.columns]
    if missing:
        raise InputError(f"the table has no {', '.join(missing)} column", path=table.path)
    n_sections, height, width = (int(v) for v in movie.shape)
    table.check_frames(n_sections)
    rois = validate_rois(rois, path=path)
    check_rois(rois, n_sections=n_sections, height=height, width=width, path=path)
    size = int(rois["size"].iloc[0])
    selected = select_rois(rois, settings)

    sections = _Sections(movie)
    maxima, nonzero, moments = _pass1(sections, table, selected, size=size,
                                      pixel_size_nm=float(pixel_size_nm), settings=settings,
                                      runner=runner)
    empty = nonzero == 0
    kept_mask = ~empty if settings.drop_empty else np.ones(len(selected), bool)
    kept = drop_empty(selected, ~kept_mask)
    top = float(maxima[kept_mask].max()) if kept_mask.any() else 0.0
    if not np.isfinite(top):
        raise InputError("the ROI tiles hold NaN or infinite values",
                         hint="check the stack (or its preprocessing)")
    input_scale = top if top > 0 else 1.0
    coefficients, estimate = None, None
    if settings.estimate and len(kept):
        # an all-zero tile has no pixel > 0, so its moments are zero: the per-section
        # sums hold the kept tiles' moments only
        coefficients, pixels = fit_moments(moments, degree=settings.degree)
        estimate = {"coefficients": [float(c) for c in coefficients],
                    "degree": settings.degree, "nn_size": settings.nn_size, "pixels": pixels,
                    "input_scale": input_scale, "units": "localizations per pixel"}

    channels = settings.channels
    input_shape, target_shape = (size, size, channels), (size, size, 1)
    chunk = int(chunk or 0) or auto_chunk(input_shape, target_shape)
    sizes = chunk_sizes(len(kept), chunk)
    tasks, start = [], 0
    for n in sizes:
        tasks.append(_pass2_task(sections, table, kept.iloc[start:start + n], size=size,
                                 pixel_size_nm=float(pixel_size_nm), input_scale=input_scale,
                                 coefficients=coefficients, nn_size=settings.nn_size))
        start += n
    dropped = int(empty.sum()) if settings.drop_empty else 0
    attrs = {
        "generator": "counts", "params": settings.to_mapping(), "upsampling": 1,
        "pixel_size_nm": float(pixel_size_nm),
        "normalization": _normalization(input_scale, settings),
        "estimate": estimate,
        "rois": {"path": None if path is None else os.path.abspath(path),
                 "listed": len(rois), "selected": len(selected), "used": len(kept),
                 "dropped_empty": dropped, "size_px": size}}
    return Generated(
        tasks, input_shape=input_shape, target_shape=target_shape, sizes=sizes, chunk=chunk,
        attrs=attrs,
        empty_reason=f"every one of the {len(selected)} selected ROI tiles is zero everywhere",
        empty_hint="check that the ROI list belongs to this stack")


def _normalization(input_scale: float, settings: CountsSettings) -> dict:
    channels = {"0": "tile / input_scale (the largest intensity over the kept ROI tiles)"}
    if settings.estimate:
        channels["1"] = (f"clip(poly(nn(tile)), 0, None): estimated localizations per pixel; "
                         f"nn = mean over {settings.nn_size}x{settings.nn_size} px, "
                         f"edges repeated (scipy uniform_filter, mode nearest); poly from "
                         f"estimate.coefficients, raw intensity units, highest power first")
    return {"inputs": channels, "input_scale": input_scale,
            "targets": "localization counts per pixel (floor of x_nm, y_nm / pixel size)"}


__all__ = ["build_counts", "select_rois"]
