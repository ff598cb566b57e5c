"""Histograms of cluster properties, the real clusters beside their randomized controls.

matplotlib is imported here, lazily, through its object API with the Agg canvas (no
pyplot, no global backend); the PNG is written to a temporary sibling and renamed.
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.io.outputs import check_plot_path, staged_output

DEFAULT_COLUMNS = ("n_localizations", "radius_of_gyration_nm", "extent_x_nm", "extent_y_nm",
                   "extent_z_nm", "hull_volume_nm3", "hull_area_nm2", "projected_area_nm2",
                   "density_per_um3", "sections", "nearest_cluster_nm")
"""The properties plotted by default (columns of ``cluster_properties``)."""

AXIS_LABELS = {
    "n_localizations": "localizations per cluster",
    "x_nm": "centroid x (nm)", "y_nm": "centroid y (nm)", "z_nm": "centroid z (nm)",
    "extent_x_nm": "extent in x (nm)", "extent_y_nm": "extent in y (nm)",
    "extent_z_nm": "extent in z (nm)",
    "radius_of_gyration_nm": "radius of gyration (nm)",
    "hull_volume_nm3": "hull volume (nm³)", "hull_area_nm2": "hull surface area (nm²)",
    "projected_area_nm2": "projected area in x, y (nm²)",
    "density_per_um3": "density (localizations / µm³)",
    "sections": "sections per cluster",
    "nearest_cluster_nm": "nearest-cluster distance (nm)",
}
"""x-axis labels, with units, of the known properties; other columns are labelled by name."""


def _bins(values: np.ndarray, integer: bool) -> np.ndarray:
    """Shared bin edges for the finite ``values`` of both tables."""
    lo, hi = float(values.min()), float(values.max())
    if integer and hi - lo <= 60:
        return np.arange(math.floor(lo), math.floor(hi) + 2) - 0.5
    n = int(np.clip(np.sqrt(values.size), 10, 60))
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n + 1)


def _finite(table: pd.DataFrame | None, column: str) -> np.ndarray:
    if table is None or column not in table.columns:
        return np.empty(0)
    values = table[column].to_numpy(np.float64)
    return values[np.isfinite(values)]


def plot_property_histograms(real: pd.DataFrame, randomized: pd.DataFrame | None,
                             path: str | os.PathLike, *,
                             columns: Sequence[str] = DEFAULT_COLUMNS,
                             overwrite: bool = False, dpi: int = 110) -> None:
    """Write one PNG with a histogram per property, real and randomized clusters overlaid.

    Parameters
    ----------
    real : pandas.DataFrame
        Properties of the real clusters (``cluster_properties``), one row per cluster.
    randomized : pandas.DataFrame or None
        Properties of the randomized clusters (``randomized_properties``), with a
        ``repeat`` column; None plots the real clusters alone.
    path : str or os.PathLike
        The ``.png`` to write; its folder must exist.
    columns : sequence of str, optional
        The properties to plot, one panel each (all must be columns of ``real``).
    overwrite : bool, optional
        Replace an existing file.
    dpi : int, optional
        Resolution, dots per inch.

    Raises
    ------
    InputError
        A path that is not ``.png``, exists (without ``overwrite``) or has no folder;
        no columns; a column missing from ``real``.

    Notes
    -----
    Both tables share each panel's bins (integer-aligned for integer properties such
    as ``n_localizations``). Step histograms; the randomized counts are divided by the
    number of repeats, so both read as clusters per data set. NaN values are left out.
    An empty table is not an error: its panels say "no clusters" (a run in which DBSCAN
    found nothing still gets its figure), and a property with no finite value (z
    properties of a 2D table) says "no finite values".
    """
    for name, table in (("real", real), ("randomized", randomized)):
        if not (isinstance(table, pd.DataFrame) or (name == "randomized" and table is None)):
            raise InputError(f"{name} must be a pandas DataFrame of cluster properties, "
                             f"got {type(table).__name__}")
    path = check_plot_path(os.fspath(path), overwrite=overwrite)
    columns = list(columns)
    if not columns:
        raise InputError("no properties to plot", hint="pass at least one column")
    missing = [c for c in columns if c not in real.columns]
    if missing:
        raise InputError(f"the property table has no column {', '.join(missing)}",
                         hint=f"choose from {', '.join(map(str, real.columns))}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # no pyplot, no global backend
    from matplotlib.figure import Figure

    repeats = 1
    if randomized is not None and "repeat" in randomized.columns and len(randomized):
        repeats = int(randomized["repeat"].nunique())
    ncols = min(4, len(columns))
    nrows = math.ceil(len(columns) / ncols)
    fig = Figure(figsize=(3.6 * ncols, 2.9 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(columns):]:
        ax.set_visible(False)
    for ax, column in zip(axes, columns):
        ax.set_xlabel(AXIS_LABELS.get(column, column))
        ax.set_ylabel("clusters")
        values, control = _finite(real, column), _finite(randomized, column)
        if not len(real):
            ax.text(0.5, 0.5, "no clusters", ha="center", va="center", transform=ax.transAxes)
            continue
        if not values.size and not control.size:
            ax.text(0.5, 0.5, "no finite values", ha="center", va="center",
                    transform=ax.transAxes)
            continue
        integer = pd.api.types.is_integer_dtype(real[column].dtype) or column == "sections"
        bins = _bins(np.concatenate([values, control]), integer)
        if values.size:
            ax.hist(values, bins=bins, histtype="step", color="tab:blue", lw=1.5,
                    label=f"real ({values.size})")
        if control.size:
            ax.hist(control, bins=bins, histtype="step", color="tab:orange", lw=1.2,
                    weights=np.full(control.size, 1.0 / repeats),
                    label=f"randomized ({repeats} repeats)")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))  # no crowded ticks
        ax.legend(loc="best", fontsize="x-small")
    with staged_output(path, overwrite=overwrite, kind="file") as staged:
        fig.savefig(staged.path, format="png", dpi=dpi)


__all__ = ["AXIS_LABELS", "DEFAULT_COLUMNS", "plot_property_histograms"]
