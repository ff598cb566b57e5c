"""Predicted uncertainties: filtering a table by them, binning them, checking their calibration.

- :func:`filter_by_uncertainty` keeps a row when ``uncertainty_x_nm`` and
  ``uncertainty_y_nm`` (and ``uncertainty_z_nm`` when the table has it) are all at most
  the cut; a NaN uncertainty fails the comparison, so its row is dropped. pandas tables
  are filtered at once, dask DataFrames lazily, partition by partition
  (``map_partitions``, nothing computed).
- Histograms are built from fixed bin edges (:func:`histogram_edges`), so that a table of
  any size can be binned partition by partition (:func:`bin_uncertainties`) and the bins
  summed (:func:`sum_histograms`; :func:`histogram_graph` does both lazily for a dask
  DataFrame). :mod:`smlmscale.evaluate.uncertainty_plot` draws them.
- :func:`zscore_spread`: for matched prediction/truth pairs, the standard deviation of
  ``error / predicted sigma`` per axis; about 1 when the sigmas are calibrated (the
  issue's target: 0.8 - 1.25).

Kernels on pandas/NumPy; the two dask paths only build graphs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from smlmscale.errors import InputError

#: Uncertainty columns, in plotting order (the axial one only in 3D tables).
UNCERTAINTY_COLUMNS = ("uncertainty_x_nm", "uncertainty_y_nm", "uncertainty_z_nm")
#: Upper edge of the default histogram range, nm.
DEFAULT_RANGE_NM = 100.0
#: Bins of the default histogram.
DEFAULT_BINS = 200


def uncertainty_columns(columns: Iterable[str]) -> tuple[str, ...]:
    """The uncertainty columns a table has, in order.

    Raises
    ------
    InputError
        ``param="max_uncertainty_nm"``, when either lateral column is missing.
    """
    columns = set(columns)
    if not {"uncertainty_x_nm", "uncertainty_y_nm"} <= columns:
        raise InputError("the localization table has no uncertainty_x_nm and "
                         "uncertainty_y_nm columns to filter or plot", param="max_uncertainty_nm",
                         hint="predict with a model that predicts uncertainties (locnet)")
    return tuple(c for c in UNCERTAINTY_COLUMNS if c in columns)


def _keep_rows(table: pd.DataFrame, columns: tuple[str, ...], limit: float) -> pd.DataFrame:
    keep = np.ones(len(table), dtype=bool)
    for column in columns:
        keep &= table[column].to_numpy(np.float64) <= limit
    return table[keep]


def filter_by_uncertainty(table: Any, max_uncertainty_nm: float | None) -> Any:
    """The rows whose predicted uncertainties are all at most ``max_uncertainty_nm``.

    Parameters
    ----------
    table : pandas.DataFrame or dask.dataframe.DataFrame
        With ``uncertainty_x_nm``, ``uncertainty_y_nm`` and optionally
        ``uncertainty_z_nm`` (nm).
    max_uncertainty_nm : float or None
        The cut, nm (inclusive); ``None`` keeps every row (the table is returned as is).

    Returns
    -------
    pandas.DataFrame or dask.dataframe.DataFrame
        The same kind as ``table`` (dask: lazy, per partition), index kept. A row with a
        NaN uncertainty on any of the axes is dropped.

    Raises
    ------
    InputError
        For a cut that is not positive, or a table without the lateral uncertainties.

    Examples
    --------
    >>> t = pd.DataFrame({"uncertainty_x_nm": [5.0, 30.0, np.nan],
    ...                   "uncertainty_y_nm": [8.0, 2.0, 1.0]})
    >>> filter_by_uncertainty(t, 10.0).index.tolist()
    [0]
    """
    if max_uncertainty_nm is None:
        return table
    limit = float(max_uncertainty_nm)
    if not limit > 0:
        raise InputError(f"{{flag}} must be positive, got {max_uncertainty_nm}",
                         param="max_uncertainty_nm")
    columns = uncertainty_columns(table.columns)
    if isinstance(table, pd.DataFrame):
        return _keep_rows(table, columns, limit)
    return table.map_partitions(_keep_rows, columns, limit, meta=table._meta)


@dataclass(frozen=True)
class UncertaintyHistogram:
    """Counts of predicted uncertainties in fixed bins, one row per column.

    Attributes
    ----------
    columns : tuple of str
        The uncertainty columns binned (:data:`UNCERTAINTY_COLUMNS` present in the table).
    edges_nm : numpy.ndarray
        ``(bins + 1,)`` float64 bin edges, nm, increasing.
    counts : numpy.ndarray
        ``(len(columns), bins)`` int64; the last bin includes its right edge.
    above : numpy.ndarray
        ``(len(columns),)`` int64: values above the last edge.
    invalid : numpy.ndarray
        ``(len(columns),)`` int64: NaN, infinite or below the first edge.
    """

    columns: tuple[str, ...]
    edges_nm: np.ndarray
    counts: np.ndarray
    above: np.ndarray
    invalid: np.ndarray

    @property
    def total(self) -> int:
        """Rows binned (every column counts every row once)."""
        return int(self.counts[0].sum() + self.above[0] + self.invalid[0]) if self.columns else 0

    def __add__(self, other: UncertaintyHistogram) -> UncertaintyHistogram:
        if self.columns != other.columns or not np.array_equal(self.edges_nm, other.edges_nm):
            raise ValueError("only histograms of the same columns and bin edges add up")
        return UncertaintyHistogram(self.columns, self.edges_nm, self.counts + other.counts,
                                    self.above + other.above, self.invalid + other.invalid)


def histogram_edges(max_uncertainty_nm: float | None = None, *,
                    range_nm: float = DEFAULT_RANGE_NM, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Bin edges from 0 to at least ``max(range_nm, 2 * max_uncertainty_nm)`` nm.

    About ``bins`` equal bins; with a cut, the cut itself is an edge (so the share of
    values within it is read off the bins exactly).

    >>> histogram_edges(bins=4).tolist()
    [0.0, 25.0, 50.0, 75.0, 100.0]
    >>> histogram_edges(80.0, bins=4).tolist()
    [0.0, 40.0, 80.0, 120.0, 160.0]
    """
    if max_uncertainty_nm is None:
        return np.linspace(0.0, float(range_nm), int(bins) + 1)
    cut = float(max_uncertainty_nm)
    top = max(float(range_nm), 2.0 * cut)
    below = max(1, int(round(cut / (top / int(bins)))))
    width = cut / below
    above = min(max(1, int(np.ceil((top - cut) / width - 1e-9))), 4 * int(bins))  # tiny cuts
    return np.concatenate([np.linspace(0.0, cut, below + 1), cut + width * np.arange(1, above + 1)])


def bin_uncertainties(table: pd.DataFrame | Mapping[str, Any], *,
                      edges_nm: np.ndarray) -> UncertaintyHistogram:
    """Bin the uncertainty columns of one table (or one partition of a larger one).

    Parameters
    ----------
    table : pandas.DataFrame or mapping of str to array_like
        With ``uncertainty_x_nm``, ``uncertainty_y_nm`` and optionally
        ``uncertainty_z_nm``, nm.
    edges_nm : numpy.ndarray
        Bin edges, nm (:func:`histogram_edges`); every partition must use the same.

    Returns
    -------
    UncertaintyHistogram
    """
    columns = uncertainty_columns(table.keys())
    edges = np.asarray(edges_nm, dtype=np.float64)
    counts, above, invalid = [], [], []
    for column in columns:
        values = np.asarray(table[column], dtype=np.float64)
        inside = np.isfinite(values) & (values >= edges[0])
        over = inside & (values > edges[-1])
        counts.append(np.histogram(values[inside & ~over], bins=edges)[0].astype(np.int64))
        above.append(int(over.sum()))
        invalid.append(int((~inside).sum()))
    return UncertaintyHistogram(columns, edges, np.array(counts, np.int64).reshape(
        len(columns), len(edges) - 1), np.array(above, np.int64), np.array(invalid, np.int64))


def sum_histograms(parts: Iterable[UncertaintyHistogram]) -> UncertaintyHistogram:
    """The sum of the histograms of several partitions (same columns and edges)."""
    parts = list(parts)
    if not parts:
        raise ValueError("no histograms to sum")
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def histogram_graph(table: Any, *, edges_nm: np.ndarray) -> Any:
    """A lazy ``dask.delayed`` of the :class:`UncertaintyHistogram` of a dask DataFrame.

    Each partition is binned by its own task (:func:`bin_uncertainties`) and the bins
    summed by one more (:func:`sum_histograms`); nothing is computed here.
    """
    import dask

    uncertainty_columns(table.columns)
    edges = np.asarray(edges_nm, dtype=np.float64)
    parts = [dask.delayed(bin_uncertainties)(part, edges_nm=edges)
             for part in table.to_delayed()]
    return dask.delayed(sum_histograms)(parts)


def _column(source: Any, name: str, index: np.ndarray | None) -> np.ndarray | None:
    if source is None:
        return None
    if isinstance(source, (Mapping, pd.DataFrame)):
        if name not in source:
            return None
        values = np.asarray(source[name], dtype=np.float64)
    else:
        values = getattr(source, name, None)
        if values is None:
            return None
        values = np.asarray(values, dtype=np.float64)
    return values if index is None else values[index]


def _indices(pairs: Any, name: str) -> np.ndarray:
    values = pairs[name] if isinstance(pairs, (Mapping, pd.DataFrame)) and name in pairs \
        else getattr(pairs, name, None)
    if values is None:
        raise ValueError(f"the pairs have no {name} to look the tables up with")
    return np.asarray(values, dtype=np.int64)


def zscore_spread(pairs: Any, predictions: pd.DataFrame | Mapping[str, Any] | None = None, *,
                  truth: pd.DataFrame | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Spread of ``error / predicted sigma`` of matched pairs, per axis (1 when calibrated).

    Parameters
    ----------
    pairs : MatchedPairs or mapping
        Matched pairs (:class:`smlmscale.evaluate.run.MatchedPairs`, or a mapping/DataFrame
        with the same fields): ``dx_nm``, ``dy_nm`` (and ``dz_nm``), prediction minus
        truth, nm; ``pred_index`` (and ``truth_index``), row positions. Without
        ``predictions``, ``pairs`` itself must hold ``uncertainty_x_nm``,
        ``uncertainty_y_nm`` (``uncertainty_z_nm``), one per pair.
    predictions : pandas.DataFrame or mapping, optional
        The prediction table the pairs index (``iloc`` by ``pred_index``), with its
        uncertainty columns (nm) and, for the photon axis, ``photons`` and
        ``uncertainty_photons``.
    truth : pandas.DataFrame or mapping, optional
        The truth table (``iloc`` by ``truth_index``): with ``photons`` there, the photon
        z-score is reported too.

    Returns
    -------
    dict
        ``pairs`` (int); for each axis ``a`` of ``x, y[, z][, photons]`` with data:
        ``zscore_std_a`` (standard deviation), ``zscore_mean_a`` (bias in sigmas) and
        ``zscore_pairs_a`` (pairs used: a NaN or non-positive sigma drops its pair on that
        axis); ``None`` for an axis with fewer than 2 usable pairs.
    """
    pred_index = None if predictions is None else _indices(pairs, "pred_index")
    source = pairs if predictions is None else predictions
    axes = [("x", _column(pairs, "dx_nm", None), "uncertainty_x_nm"),
            ("y", _column(pairs, "dy_nm", None), "uncertainty_y_nm"),
            ("z", _column(pairs, "dz_nm", None), "uncertainty_z_nm")]
    out: dict[str, Any] = {"pairs": 0 if axes[0][1] is None else int(axes[0][1].size)}
    if truth is not None and predictions is not None:
        truth_index = _indices(pairs, "truth_index")
        found = _column(predictions, "photons", pred_index)
        wanted = _column(truth, "photons", truth_index)
        if found is not None and wanted is not None:
            axes.append(("photons", found - wanted, "uncertainty_photons"))
    for axis, error, sigma_column in axes:
        sigma = _column(source, sigma_column, pred_index)
        if error is None or sigma is None:
            continue
        usable = np.isfinite(error) & np.isfinite(sigma) & (sigma > 0)
        z = error[usable] / sigma[usable]
        enough = z.size >= 2
        out[f"zscore_std_{axis}"] = float(np.std(z, ddof=1)) if enough else None
        out[f"zscore_mean_{axis}"] = float(np.mean(z)) if enough else None
        out[f"zscore_pairs_{axis}"] = int(z.size)
    return out


__all__ = ["DEFAULT_BINS", "DEFAULT_RANGE_NM", "UNCERTAINTY_COLUMNS", "UncertaintyHistogram",
           "bin_uncertainties", "filter_by_uncertainty", "histogram_edges", "histogram_graph",
           "sum_histograms", "uncertainty_columns", "zscore_spread"]
