"""Prepare and run an evaluation: read the tables, decide where to match them, plot.

:func:`prepare_evaluate` checks the plot path before anything is read, reads both tables
(eagerly, or lazily when the files are large) and decides whether the blocks are matched
on a Dask cluster (:attr:`EvaluatePlan.needs_cluster`); :func:`run_evaluate` scores them
(:func:`~smlmscale.evaluate.run.evaluate_tables`) and writes the plot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smlmscale.evaluate.frames import predicted_frames
from smlmscale.evaluate.run import EvaluateSettings, EvaluationResult, evaluate_tables

#: Above this many rows (both tables) the blocks are matched on the Dask cluster. The
#: in-process kernels are fast (2e6 rows in 0.35 s, 2e7 in 5 s on 2 cores, where a 2-worker
#: LocalCluster took 1.1 s and 6 s: benchmarks/RESULTS.md), so only very large tables go there.
CLUSTER_ROWS = 5_000_000
#: Above this many bytes (both files) the tables are read lazily, on the cluster.
LAZY_BYTES = 256 * 2**20


@dataclass(frozen=True, eq=False)
class EvaluatePlan:
    """A prepared evaluation (:func:`prepare_evaluate`).

    Attributes
    ----------
    locs, truth : str
        The prediction and truth tables' files.
    pred_table, truth_table : pandas.DataFrame or dask.dataframe.DataFrame
        The tables read (lazily when ``lazy``).
    truth_meta : TableMeta
    settings : EvaluateSettings
    lazy : bool
        The tables are dask DataFrames, computed partition by partition on the cluster.
    needs_cluster : bool
        The blocks are matched on a Dask cluster (large or lazy tables).
    plot : pathlib.Path or None
        The PNG to write.
    overwrite : bool
        Replace an existing plot.
    frames : tuple of int or None
        ``(first, stop)`` frames scored: ``frames`` as given, else the frames the
        prediction's metadata records (``predict --frames``), else all.
    """

    locs: str
    truth: str
    pred_table: Any
    truth_table: Any
    truth_meta: Any
    settings: EvaluateSettings
    lazy: bool
    needs_cluster: bool
    plot: Path | None = None
    overwrite: bool = False
    frames: tuple[int, int] | None = None


def prepare_evaluate(locs: str | os.PathLike, *, truth: str | os.PathLike,
                     settings: EvaluateSettings | None = None, from_format: str | None = None,
                     truth_from: str | None = None, plot: str | os.PathLike | None = None,
                     overwrite: bool = False, cluster_rows: int = CLUSTER_ROWS,
                     lazy_bytes: int = LAZY_BYTES,
                     frames: tuple[int, int] | None = None) -> EvaluatePlan:
    """Check the plot path, read both tables and decide whether a cluster is needed.

    Parameters
    ----------
    locs, truth : str or os.PathLike
        Prediction and ground-truth tables, any format smlmscale reads.
    settings : EvaluateSettings, optional
        Its ``pixel_size_nm`` also reads tables in pixels; with ``plot`` the matched
        pairs are kept.
    from_format, truth_from : str, optional
        The tables' formats; default: from the extension and the header.
    plot : str or os.PathLike, optional
        A ``.png`` of error histograms and precision/recall vs tolerance.
    overwrite : bool
        Replace an existing plot.
    cluster_rows : int
        Above this many rows (both tables) the blocks are matched on a cluster.
    lazy_bytes : int
        Above this many bytes (both files) the tables are read lazily (and matched on a
        cluster).
    frames : tuple of int, optional
        ``(first, stop)``: score these frames only; default: the frames the prediction
        covers when its metadata records them (``predict --frames``), else all.

    Raises
    ------
    InputError
        A plot path that exists (without ``overwrite``) or is not ``.png``; tables that
        cannot be read.
    """
    from smlmscale.io.outputs import check_plot_path
    from smlmscale.io.tables import read_table, read_table_lazy

    settings = settings or EvaluateSettings()
    if plot is not None:
        plot = check_plot_path(plot, overwrite=overwrite)  # before anything is read
        settings = settings.replace(keep_pairs=True)
    sizes = sum(Path(p).stat().st_size for p in (locs, truth) if Path(p).is_file())
    lazy = sizes > lazy_bytes
    reader = read_table_lazy if lazy else read_table
    pred_table, pred_meta = reader(locs, format=from_format,
                                   pixel_size_nm=settings.pixel_size_nm)
    truth_table, meta = reader(truth, format=truth_from, pixel_size_nm=settings.pixel_size_nm)
    needs_cluster = lazy or len(pred_table) + len(truth_table) > cluster_rows
    return EvaluatePlan(locs=str(locs), truth=str(truth), pred_table=pred_table,
                        truth_table=truth_table, truth_meta=meta, settings=settings,
                        lazy=lazy, needs_cluster=needs_cluster, plot=plot,
                        overwrite=overwrite, frames=frames or predicted_frames(pred_meta))


def run_evaluate(plan: EvaluatePlan, *, client=None, progress=None) -> EvaluationResult:
    """Score the plan's tables (on ``client`` when given) and write its plot.

    ``progress`` is accepted for the shape every stage shares.
    """
    result = evaluate_tables(plan.pred_table, plan.truth_table, settings=plan.settings,
                             client=client, truth_meta=plan.truth_meta, frames=plan.frames)
    if plan.plot is not None:
        from smlmscale.evaluate.plot import plot_evaluation

        plot_evaluation(result, plan.plot, overwrite=plan.overwrite)
    return result


__all__ = ["CLUSTER_ROWS", "EvaluatePlan", "LAZY_BYTES", "prepare_evaluate", "run_evaluate"]
