"""Orchestration: ``filter`` a localization table by a condition, and histograms to choose it.

The condition (:mod:`~smlmscale.postprocess.expression`) is applied partition by partition
while the project's table writer streams the kept rows to the output (any format); the
table is never whole anywhere. With ``plot``, the histograms of some columns (those the
condition thresholds, or ``confidence`` and ``photons``) are computed on the workers in
two passes (:mod:`~smlmscale.postprocess.histograms`) and drawn with the thresholds, all
rows and kept rows; a plot alone (no condition, no output) shows the distributions before
a threshold is chosen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from smlmscale.errors import InputError
from smlmscale.postprocess.expression import Where, parse_where
from smlmscale.postprocess.histograms import DEFAULT_COLUMNS
from smlmscale.settings import Settings, setting


@dataclass(frozen=True)
class FilterSettings(Settings):
    """How the histograms are drawn.

    Attributes
    ----------
    bins : int
        Bins of each histogram, between the column's finite minimum and maximum.
    """

    bins: int = setting(100, min=1, max=10_000, help="Bins of each histogram of --plot")


@dataclass(frozen=True, eq=False)
class FilterPlan:
    """A checked filter (:func:`prepare_filter`)."""

    locs: str
    output: Path | None
    where: Where | None
    plot: Path | None
    columns: tuple[str, ...]
    format: str | None
    overwrite: bool
    table: Any
    meta: Any
    settings: FilterSettings


@dataclass(frozen=True)
class FilterResult:
    """What was written: the table ``path`` (or None) and its ``kept`` rows, the ``plot``
    path (or None), the ``rows`` read (None when only the table was written)."""

    path: str | None
    kept: int | None
    plot: str | None
    rows: int | None


def prepare_filter(locs: str | os.PathLike, output: str | os.PathLike | None = None, *,
                   where: str | None = None, plot: str | os.PathLike | None = None,
                   columns: list[str] | tuple[str, ...] | None = None,
                   settings: FilterSettings | None = None, format: str | None = None,
                   overwrite: bool = False, blocksize: int | str | None = None) -> FilterPlan:
    """Check a filter (no cluster): the condition, the columns, the outputs.

    Parameters
    ----------
    locs : str or os.PathLike
        Any table format smlmscale reads (opened lazily).
    output : str or os.PathLike, optional
        The kept rows; format from ``format`` or the extension. Needs ``where``.
    where : str, optional
        The condition rows must satisfy (:mod:`~smlmscale.postprocess.expression`).
    plot : str or os.PathLike, optional
        A PNG of the histograms of ``columns``.
    columns : sequence of str, optional
        Columns histogrammed; default those ``where`` compares with a number, else those
        of :data:`~smlmscale.postprocess.histograms.DEFAULT_COLUMNS` the table has.
    settings : FilterSettings, optional
    format : str, optional
    overwrite : bool
    blocksize : int or str, optional
        Bytes per partition of the reader.

    Raises
    ------
    InputError
        No output and no plot, an output without a condition or the reverse, columns
        without a plot, a bad
        condition, unknown histogram columns, an existing output, an unreadable or empty
        table.
    """
    from smlmscale.io.outputs import check_plot_path
    from smlmscale.io.tables import read_table_lazy
    from smlmscale.io.tables.writer import prepare_output

    if (output is None) != (where is None):
        raise InputError("-o OUT and --where go together",
                         hint="give both, or only --plot PNG to see the histograms")
    if output is None and plot is None:
        raise InputError("nothing to write", hint="give -o OUT with --where, or --plot PNG")
    if columns and plot is None:
        raise InputError("--hist names the columns of --plot", hint="add --plot PNG")
    plot = (check_plot_path(plot, overwrite=overwrite, what="histogram plot")
            if plot is not None else None)
    settings = settings or FilterSettings()
    kwargs = {} if blocksize is None else {"blocksize": blocksize}
    table, meta = read_table_lazy(locs, **kwargs)
    condition = parse_where(where, list(table.columns)) if where is not None else None
    chosen = _columns(columns, condition, table.columns, path=locs) if plot else ()
    if output is not None:
        output = Path(output)
        prepare_output(output, meta=meta, format=format, overwrite=overwrite)
    return FilterPlan(locs=str(locs), output=output, where=condition, plot=plot,
                      columns=chosen, format=format, overwrite=overwrite, table=table,
                      meta=meta, settings=settings)


def _columns(columns, where: Where | None, present, *, path) -> tuple[str, ...]:
    if columns:
        unknown = [c for c in columns if c not in present]
        if unknown:
            raise InputError(f"--hist: no column {', '.join(map(repr, unknown))}", path=path,
                             hint=f"the table has {', '.join(map(str, present))}")
        return tuple(dict.fromkeys(columns))
    found = tuple(dict.fromkeys(name for name, _ in where.thresholds)) if where else ()
    found = found or tuple(c for c in DEFAULT_COLUMNS if c in present)
    if not found:
        raise InputError("the table has no confidence or photons column to histogram",
                         path=path, hint="name the columns with --hist COLUMN[,COLUMN]")
    return found


def filtered(table, where: Where):
    """The rows of a dask table that satisfy ``where``, lazily (partition by partition)."""
    return table.map_partitions(_keep, where, meta=table._meta)


def _keep(part, where: Where):
    return part[where.evaluate(part)]


def histograms(plan: FilterPlan, *, client):
    """The :class:`~smlmscale.postprocess.histograms.Histograms` of ``plan``'s columns."""
    from smlmscale.postprocess.histograms import (Histograms, column_histograms,
                                                  column_ranges, histogram_edges)

    columns = list(plan.columns)
    ranges = client.compute(column_ranges(plan.table, columns), sync=True)
    edges = [histogram_edges(low, high, plan.settings.bins) for low, high in ranges]
    counts, rows = client.compute(column_histograms(plan.table, columns, edges, plan.where),
                                  sync=True)
    return Histograms(tuple(columns), tuple(edges), np.asarray(counts), int(rows[0]),
                      int(rows[1]))


def _nothing_kept(plan: FilterPlan) -> None:
    raise InputError(f"no localization satisfies --where {plan.where.text!r}; nothing "
                     f"written", path=plan.locs,
                     hint="loosen the condition (--plot PNG shows the distributions)")


def run_filter(plan: FilterPlan, *, client, progress=None) -> FilterResult:
    """Draw the histograms and write the kept rows of a :class:`FilterPlan`, atomically.

    Raises
    ------
    InputError
        No row satisfies the condition (nothing is written).
    """
    from smlmscale.io.outputs import staged_output
    from smlmscale.io.tables import write_table
    from smlmscale.postprocess.histograms import plot_histograms

    rows = None
    if plan.plot is not None:
        hist = histograms(plan, client=client)
        rows = hist.rows
        if plan.where is not None and hist.kept == 0:
            _nothing_kept(plan)
        with staged_output(plan.plot, kind="file", overwrite=plan.overwrite) as staged:
            plot_histograms(staged.path, hist, where=plan.where)
    if plan.output is None:
        return FilterResult(path=None, kept=None, plot=str(plan.plot), rows=rows)
    meta = replace(plan.meta, extra={**dict(plan.meta.extra), "filter": plan.where.text})
    try:
        summary = write_table(filtered(plan.table, plan.where), plan.output, meta=meta,
                              format=plan.format, overwrite=plan.overwrite)
    except InputError as exc:
        if "holds no localizations" not in exc.message:
            raise
        _nothing_kept(plan)
    return FilterResult(path=str(plan.output), kept=int(summary["rows"]),
                        plot=None if plan.plot is None else str(plan.plot), rows=rows)


__all__ = ["FilterPlan", "FilterResult", "FilterSettings", "filtered", "histograms",
           "prepare_filter", "run_filter"]
