"""Orchestration: a PNG summary of an evaluation (error histograms, precision/recall vs tolerance).

matplotlib is imported here, lazily, with the Agg backend; the file is written to a
temporary sibling and renamed, and an existing file is refused unless ``overwrite``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from smlmscale.evaluate.metrics import tolerance_sweep
from smlmscale.evaluate.run import EvaluationResult
from smlmscale.io.outputs import PLOT_EXISTS_HINT, check_plot_path, staged_output


def plot_evaluation(result: EvaluationResult, path: str | os.PathLike, *,
                    overwrite: bool = False, dpi: int = 120) -> Path:
    """Write error histograms and precision/recall/Jaccard vs lateral tolerance as a PNG.

    Parameters
    ----------
    result : EvaluationResult
        An evaluation with its matched pairs (``keep_pairs=True``).
    path : str or path-like
        The ``.png`` to write.
    overwrite : bool, optional
        Replace an existing file.
    dpi : int, optional
        Resolution in dots per inch.

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    The top row has histograms of ``dx``, ``dy`` (and ``dz``) in nm, prediction minus
    truth; the bottom panel precision, recall and Jaccard index at lateral
    tolerances up to the one used, from the matched distances
    (:func:`~smlmscale.evaluate.metrics.tolerance_sweep`: exact for greedy matching).
    """
    if result.pairs is None:
        raise ValueError("the result holds no matched pairs; evaluate with keep_pairs=True")
    path = check_plot_path(path, overwrite=overwrite)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # no pyplot, no global backend
    from matplotlib.figure import Figure

    pairs = result.pairs
    errors = [("dx", pairs.dx_nm), ("dy", pairs.dy_nm)]
    if pairs.dz_nm is not None:
        errors.append(("dz", pairs.dz_nm))
    fig = Figure(figsize=(4.0 * len(errors), 7.0), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, len(errors))
    for k, (name, values) in enumerate(errors):
        ax = fig.add_subplot(grid[0, k])
        if values.size:
            ax.hist(values, bins=min(100, max(10, int(np.sqrt(values.size)))), color="0.35")
            ax.axvline(float(np.mean(values)), color="tab:red", lw=1,
                       label=f"mean {np.mean(values):.1f} nm")
            ax.legend(loc="upper right", fontsize="small")
        ax.set_xlabel(f"{name} (nm), prediction - truth")
        ax.set_ylabel("pairs")
    ax = fig.add_subplot(grid[1, :])
    limit = result.settings.tolerance_lateral_nm
    sweep = tolerance_sweep(pairs.distance_nm, n_truth=result.n_truth, n_pred=result.n_pred,
                            tolerances_nm=np.linspace(0.0, limit, 101))
    for key, color in (("precision", "tab:blue"), ("recall", "tab:orange"),
                       ("jaccard", "tab:green")):
        ax.plot(sweep["tolerance_nm"], sweep[key], color=color, label=key)
    ax.set_xlim(0, limit)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("lateral tolerance (nm)")
    ax.set_ylabel("fraction")
    ax.legend(loc="lower right")
    ax.set_title(f"{result.settings.matching} matching: Jaccard {result.jaccard:.3f}, "
                 f"{result.tp} TP / {result.fp} FP / {result.fn} FN", fontsize="medium")
    with staged_output(path, kind="file", overwrite=overwrite,
                       exists_hint=PLOT_EXISTS_HINT) as staged:
        fig.savefig(staged.path, format="png", dpi=dpi)
    return path
