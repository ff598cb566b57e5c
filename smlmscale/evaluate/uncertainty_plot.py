"""Orchestration: a PNG of the histograms of predicted uncertainties, with the cut marked.

One panel per uncertainty column (``uncertainty_x_nm``, ``uncertainty_y_nm`` and, in 3D,
``uncertainty_z_nm``), drawn from pre-binned counts
(:class:`~smlmscale.localize.uncertainty.UncertaintyHistogram`), so a table of any size
is plotted from its partitions' bins. matplotlib is imported here, lazily, through its
object API with the Agg canvas (no pyplot, no global backend); the file is written
through :func:`~smlmscale.io.outputs.staged_output` (a temporary sibling, renamed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from smlmscale.io.outputs import PLOT_EXISTS_HINT, check_plot_path, staged_output
from smlmscale.localize.uncertainty import (UncertaintyHistogram, bin_uncertainties,
                                            histogram_edges, histogram_graph)

_LABELS = {"uncertainty_x_nm": "x", "uncertainty_y_nm": "y", "uncertainty_z_nm": "z"}


def uncertainty_histogram(table: Any, *, max_uncertainty_nm: float | None = None
                          ) -> UncertaintyHistogram:
    """The histogram of a table's uncertainties (returned as is when already binned).

    Parameters
    ----------
    table : UncertaintyHistogram, pandas.DataFrame, mapping of arrays or dask DataFrame
        A dask DataFrame is binned partition by partition and computed here (on the
        current Dask scheduler or client).
    max_uncertainty_nm : float, optional
        The cut, nm: the default bins reach at least twice it.
    """
    if isinstance(table, UncertaintyHistogram):
        return table
    edges = histogram_edges(max_uncertainty_nm)
    if isinstance(table, (pd.DataFrame, Mapping)):
        return bin_uncertainties(table, edges_nm=edges)
    return histogram_graph(table, edges_nm=edges).compute()


def plot_uncertainty_histogram(table_or_arrays: Any, path: str | os.PathLike, *,
                               max_uncertainty_nm: float | None = None,
                               overwrite: bool = False, dpi: int = 120) -> Path:
    """Write the histograms of predicted uncertainties as a PNG, the cut marked.

    Parameters
    ----------
    table_or_arrays : UncertaintyHistogram, pandas.DataFrame, mapping or dask DataFrame
        Pre-binned counts (:func:`~smlmscale.localize.uncertainty.sum_histograms` of the
        partitions' :func:`~smlmscale.localize.uncertainty.bin_uncertainties`), or a
        table with ``uncertainty_x_nm``, ``uncertainty_y_nm`` (``uncertainty_z_nm``), nm.
    path : str or path-like
        The ``.png`` to write.
    max_uncertainty_nm : float, optional
        The filter's cut, nm: drawn as a line, with the fraction of each axis within it.
    overwrite : bool, optional
        Replace an existing file.
    dpi : int, optional
        Resolution, dots per inch.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputError
        For a path that exists (without ``overwrite``), is a folder or is not ``.png``,
        or a table without uncertainty columns.
    """
    path = check_plot_path(path, overwrite=overwrite)
    hist = uncertainty_histogram(table_or_arrays, max_uncertainty_nm=max_uncertainty_nm)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # no pyplot, no global backend
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.0 * len(hist.columns), 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    edges = hist.edges_nm
    for k, column in enumerate(hist.columns):
        ax = fig.add_subplot(1, len(hist.columns), k + 1)
        counts = hist.counts[k]
        ax.stairs(counts, edges, fill=True, color="0.45")
        notes = [f"{hist.total} localizations"]
        if hist.above[k]:
            notes.append(f"{hist.above[k]} above {edges[-1]:g} nm")
        if hist.invalid[k]:
            notes.append(f"{hist.invalid[k]} NaN or negative")
        if max_uncertainty_nm is not None:
            cut = float(max_uncertainty_nm)
            within = int(counts[edges[1:] <= cut].sum())
            share = within / hist.total if hist.total else float("nan")
            ax.axvline(cut, color="tab:red", lw=1.2, label=f"cut {cut:g} nm")
            notes.append(f"{100 * share:.1f}% within the cut")
            ax.legend(loc="upper right", fontsize="small")
        ax.text(0.98, 0.80 if max_uncertainty_nm is not None else 0.97, "\n".join(notes),
                transform=ax.transAxes, ha="right", va="top", fontsize="small")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(f"predicted uncertainty in {_LABELS[column]} (nm)")
        ax.set_ylabel("localizations")
    with staged_output(path, kind="file", overwrite=overwrite,
                       exists_hint=PLOT_EXISTS_HINT) as staged:
        fig.savefig(staged.path, format="png", dpi=dpi)
    return path


__all__ = ["plot_uncertainty_histogram", "uncertainty_histogram"]
