"""Histograms of table columns, partition by partition, for choosing filter thresholds.

Two passes over the lazily read table, both on the workers: the finite range of every
column (:func:`column_ranges`), then per partition a histogram of each column on that
fixed range, of all rows and of the rows a condition keeps, the partitions' counts summed
(:func:`column_histograms`). :func:`plot_histograms` draws them with the condition's
thresholds as vertical lines (seed 002's visual check of the confidence threshold).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dask
import numpy as np

#: Columns histogrammed when none are named and the condition thresholds none.
DEFAULT_COLUMNS = ("confidence", "photons")


def _ranges(part, columns: list[str]) -> np.ndarray:
    out = np.full((len(columns), 2), [np.inf, -np.inf])
    for i, c in enumerate(columns):
        values = part[c].to_numpy(np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            out[i] = values.min(), values.max()
    return out


def _combine_ranges(ranges: list[np.ndarray]) -> np.ndarray:
    stack = np.stack(ranges)
    return np.stack([stack[:, :, 0].min(axis=0), stack[:, :, 1].max(axis=0)], axis=1)


def column_ranges(table, columns: list[str]):
    """Delayed ``(len(columns), 2)`` finite min and max of each column (inf, -inf when a
    column has no finite value)."""
    parts = table[columns].to_delayed()
    return dask.delayed(_combine_ranges)([dask.delayed(_ranges)(p, columns) for p in parts])


def histogram_edges(low: float, high: float, bins: int) -> np.ndarray:
    """``bins + 1`` edges on ``[low, high]`` (a unit-wide range around a single value)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        low, high = 0.0, 1.0
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def _counts(part, columns: list[str], edges: list[np.ndarray],
            where) -> tuple[np.ndarray, np.ndarray]:
    keep = where.evaluate(part) if where is not None else np.ones(len(part), bool)
    out = np.zeros((len(columns), 2, len(edges[0]) - 1), np.int64)
    for i, c in enumerate(columns):
        values = part[c].to_numpy(np.float64)
        finite = np.isfinite(values)
        out[i, 0] = np.histogram(values[finite], edges[i])[0]
        out[i, 1] = np.histogram(values[finite & keep], edges[i])[0]
    return out, np.array([len(part), int(keep.sum())])


def _total(counts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.sum([c for c, _ in counts], axis=0), np.sum([r for _, r in counts], axis=0)


def column_histograms(table, columns: list[str], edges: list[np.ndarray], where=None):
    """Delayed ``(counts, rows)``: ``(len(columns), 2, bins)`` counts of all rows, then of
    the rows ``where`` keeps (all rows when None), non-finite values not counted; ``rows``
    the rows read and kept."""
    parts = table[list(dict.fromkeys([*columns, *(where.columns if where else ())]))]
    counts = [dask.delayed(_counts)(p, columns, edges, where) for p in parts.to_delayed()]
    return dask.delayed(_total)(counts)


@dataclass(frozen=True)
class Histograms:
    """``counts`` ``(C, 2, bins)`` (all, kept) of ``columns`` on ``edges``; the ``rows``
    read and ``kept``."""

    columns: tuple[str, ...]
    edges: tuple[np.ndarray, ...]
    counts: np.ndarray
    rows: int
    kept: int


def plot_histograms(path: str | os.PathLike, hist: Histograms, *, where=None) -> None:
    """A PNG: one panel per column, all rows in grey, kept rows in colour, the condition's
    thresholds of that column as dashed lines."""
    from matplotlib.figure import Figure

    n = len(hist.columns)
    fig = Figure(figsize=(4.2 * n, 3.4), dpi=120)
    for i, column in enumerate(hist.columns):
        ax = fig.add_subplot(1, n, i + 1)
        ax.stairs(hist.counts[i, 0], hist.edges[i], fill=True, color="0.8", label="all")
        if where is not None:
            ax.stairs(hist.counts[i, 1], hist.edges[i], fill=True, color="tab:blue",
                      alpha=0.7, label="kept")
            for name, value in where.thresholds:
                if name == column:
                    ax.axvline(value, color="tab:red", ls="--", lw=1.2)
        ax.set_xlabel(column)
        ax.set_ylabel("localizations")
        ax.legend(fontsize="small")
    if where is not None:
        fig.suptitle(f"where {where.text}", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png")


__all__ = ["DEFAULT_COLUMNS", "Histograms", "column_histograms", "column_ranges",
           "histogram_edges", "plot_histograms"]
