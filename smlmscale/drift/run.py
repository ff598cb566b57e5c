"""Orchestration: ``undrift`` a localization table by RCC across the cluster.

Three passes over the lazily read table, none through the driver: per-partition statistics
(rows, frames, field, non-finite positions); the segment images rendered and Fourier
transformed on the workers with one task per segment pair returning only its peak offset;
and the correction applied partition by partition while the project's table writer writes
the output (any format). Only the pair offsets and the drift curve come back to the driver,
where the small least-squares system is solved. The drift curve (per frame ``dx_nm``,
``dy_nm``) is written beside the output (``OUT stem + "_drift.csv"``) and plotted with
``plot``. Lateral drift only: ``z_nm`` passes through unchanged.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from smlmscale.drift import graph, rcc
from smlmscale.errors import InputError
from smlmscale.settings import Settings, setting

METHODS = ("rcc",)
MAX_PIXELS = 2**23


@dataclass(frozen=True)
class UndriftSettings(Settings):
    """How drift is estimated.

    Attributes
    ----------
    method : {"rcc"}
        Redundant cross-correlation (Wang et al. 2014).
    segment_frames : int
        Frames per segment.
    pixel_size_nm : float
        Render pixel size of the segment images, nm.
    max_shift_nm : float
        Largest displacement between two segments looked for, nm.
    max_residual_nm : float
        Pairs whose least-squares residual exceeds this are rejected, nm.
    sigma_nm : float
        Gaussian smoothing of the correlations, nm.
    """

    method: str = setting("rcc", choices=METHODS, help="Drift estimation method")
    segment_frames: int = setting(1000, min=1, unit="frames", help="Frames per segment",
                                  flag="--segment")
    pixel_size_nm: float = setting(20.0, min=0, min_open=True, unit="nm",
                                   help="Render pixel size of the segment images")
    max_shift_nm: float = setting(1000.0, min=0, min_open=True, unit="nm",
                                  help="Largest drift between two segments looked for")
    max_residual_nm: float = setting(20.0, min=0, min_open=True, unit="nm",
                                     help="Reject segment pairs whose residual exceeds this")
    sigma_nm: float = setting(20.0, min=0, unit="nm",
                              help="Gaussian smoothing of the correlations")


@dataclass(frozen=True)
class DriftCurve:
    """The estimate: ``centres`` (segment centres, frames), ``drift_nm`` ``(S, 2)`` x, y at
    the centres (mean over frames zero), ``frames`` the curve's length, ``pairs`` used and
    in all."""

    centres: np.ndarray
    drift_nm: np.ndarray
    frames: int
    pairs_kept: int
    pairs: int

    def per_frame(self) -> np.ndarray:
        """``(frames, 2)`` drift x, y at every frame, nm."""
        return rcc.drift_at(np.arange(self.frames), self.centres, self.drift_nm)


@dataclass(frozen=True, eq=False)
class UndriftPlan:
    """A checked undrift (:func:`prepare_undrift`)."""

    locs: str
    output: Path
    format: str | None
    drift_out: Path
    plot: Path | None
    overwrite: bool
    table: Any
    meta: Any
    settings: UndriftSettings


@dataclass(frozen=True)
class UndriftResult:
    """What was written: ``path``, ``drift_path``, ``plot_path``, ``rows``, ``segments``,
    ``pairs_kept``/``pairs`` and the largest drift magnitude ``max_drift_nm``."""

    path: str
    drift_path: str
    plot_path: str | None
    rows: int
    segments: int
    pairs_kept: int
    pairs: int
    max_drift_nm: float


def prepare_undrift(locs: str | os.PathLike, output: str | os.PathLike, *,
                    settings: UndriftSettings | None = None, format: str | None = None,
                    drift_out: str | os.PathLike | None = None,
                    plot: str | os.PathLike | None = None, overwrite: bool = False,
                    blocksize: int | str | None = None) -> UndriftPlan:
    """Check an undrift (no cluster): the outputs, the table's columns.

    Parameters
    ----------
    locs : str or os.PathLike
        Any table format smlmscale reads (opened lazily).
    output : str or os.PathLike
        The corrected table; format from ``format`` or the extension.
    settings : UndriftSettings, optional
    format : str, optional
        Output table format.
    drift_out : str or os.PathLike, optional
        The drift curve CSV; default ``OUT stem + "_drift.csv"`` beside ``output``.
    plot : str or os.PathLike, optional
        A PNG of the drift curve.
    overwrite : bool
    blocksize : int or str, optional
        Bytes per partition of the reader.

    Raises
    ------
    InputError
        An existing output, an unknown format, an unreadable table or one without
        ``frame``/``x_nm``/``y_nm``.
    """
    from smlmscale.io.outputs import check_output, check_plot_path
    from smlmscale.io.tables import read_table_lazy
    from smlmscale.io.tables.writer import prepare_output

    output = Path(output)
    settings = settings or UndriftSettings()
    drift_out = Path(drift_out) if drift_out else output.with_name(output.stem + "_drift.csv")
    plot = check_plot_path(plot, overwrite=overwrite, what="drift plot") if plot else None
    kwargs = {} if blocksize is None else {"blocksize": blocksize}
    table, meta = read_table_lazy(locs, **kwargs)
    missing = [c for c in ("frame", "x_nm", "y_nm") if c not in table.columns]
    if missing:
        raise InputError(f"the table has no {', '.join(missing)} column", path=locs,
                         hint="undrift needs frames and x/y positions")
    prepare_output(output, meta=meta, format=format, overwrite=overwrite)
    check_output(drift_out, kind="file", overwrite=overwrite)
    return UndriftPlan(locs=str(locs), output=output, format=format, drift_out=drift_out,
                       plot=plot, overwrite=overwrite, table=table, meta=meta,
                       settings=settings)


def _field(stats: list[dict], plan: UndriftPlan) -> tuple[graph.Field, list, int, int]:
    rows = sum(s["rows"] for s in stats)
    if rows == 0:
        raise InputError("the table has no localizations", path=plan.locs)
    bad = sum(s["not_finite"] for s in stats)
    if bad:
        raise InputError(f"{bad} localizations have NaN or infinite x/y", path=plan.locs,
                         hint="drop them first (smlmscale filter or your own tool)")
    stats = [s for s in stats if s["rows"]]
    frames = max(s["last_frame"] for s in stats) + 1
    if plan.meta.n_frames:
        frames = max(frames, int(plan.meta.n_frames))
    settings = plan.settings
    n_segments = frames // settings.segment_frames
    if n_segments < 2:
        raise InputError(f"{frames} frames make fewer than two segments of "
                         f"{settings.segment_frames}", path=plan.locs,
                         hint="give a smaller --segment")
    low = np.min([s["low"] for s in stats], axis=0)
    high = np.max([s["high"] for s in stats], axis=0)
    pixel = settings.pixel_size_nm
    shape = (int(math.floor((high[1] - low[1]) / pixel)) + 1,
             int(math.floor((high[0] - low[0]) / pixel)) + 1)
    if shape[0] * shape[1] > MAX_PIXELS:
        raise InputError(f"segment images of {shape[1]} x {shape[0]} px are too large",
                         path=plan.locs, hint="give a larger --pixel-size")
    field = graph.Field(shape=shape, origin_nm=(float(low[1]), float(low[0])),
                        pixel_nm=pixel, segment_frames=settings.segment_frames,
                        n_segments=n_segments)
    ranges = [(s["first_frame"], s["last_frame"]) for s in stats]
    return field, ranges, rows, frames


def estimate_drift(plan: UndriftPlan, *, client) -> tuple[DriftCurve, int]:
    """The drift curve of ``plan``'s table, computed on the cluster; also the row count.

    Raises
    ------
    InputError
        An empty table, NaN positions, fewer frames than two segments, a field too
        large for the render pixel.
    """
    settings = plan.settings
    table = plan.table
    stats = client.compute(graph.table_stats(table), sync=True)
    nonempty = [i for i, s in enumerate(stats) if s["rows"]]
    field, ranges, rows, frames = _field(stats, plan)
    if len(nonempty) < table.npartitions:
        table = table.partitions[nonempty]
    max_shift_px = max(1, int(math.ceil(settings.max_shift_nm / settings.pixel_size_nm)))
    spectra = graph.segment_spectra(table, ranges, field, max_shift_px=max_shift_px)
    pairs, shifts = graph.pair_shifts(spectra, field, max_shift_px=max_shift_px,
                                      sigma_px=settings.sigma_nm / settings.pixel_size_nm)
    shifts = np.array(client.compute(shifts, sync=True), np.float64).reshape(-1, 3)
    shifts_nm = shifts[:, [1, 0]] * settings.pixel_size_nm
    drift, kept = rcc.solve_drift(pairs, shifts_nm, n_segments=field.n_segments,
                                  max_residual_nm=settings.max_residual_nm)
    centres = segment_centres(frames, settings.segment_frames, field.n_segments)
    drift -= rcc.drift_at(np.arange(frames), centres, drift).mean(axis=0)
    return DriftCurve(centres=centres, drift_nm=drift, frames=frames,
                      pairs_kept=int(kept.sum()), pairs=len(pairs)), rows


def segment_centres(frames: int, segment_frames: int, n_segments: int) -> np.ndarray:
    """Centre frame of each segment (the last holds the remainder of ``frames``).

    >>> segment_centres(2500, 1000, 2)
    array([ 499.5, 1749.5])
    """
    starts = np.arange(n_segments) * segment_frames
    stops = np.r_[starts[1:], frames]
    return (starts + stops - 1) / 2.0


def run_undrift(plan: UndriftPlan, *, client, progress=None) -> UndriftResult:
    """Estimate the drift of a :class:`UndriftPlan`, write the corrected table, the drift
    curve and the plot, each atomically."""
    import pandas as pd

    from smlmscale.io.outputs import staged_output
    from smlmscale.io.tables import write_table

    curve, rows = estimate_drift(plan, client=client)
    per_frame = curve.per_frame()
    corrected = graph.apply_drift(plan.table, curve.centres, curve.drift_nm)
    with staged_output(plan.drift_out, kind="file", overwrite=plan.overwrite) as staged:
        pd.DataFrame({"frame": np.arange(curve.frames), "dx_nm": per_frame[:, 0],
                      "dy_nm": per_frame[:, 1]}).to_csv(staged.path, index=False)
    if plan.plot is not None:
        with staged_output(plan.plot, kind="file", overwrite=plan.overwrite) as staged:
            plot_drift(staged.path, per_frame, curve)
    meta = replace(plan.meta, extra={**dict(plan.meta.extra), "undrift": {
        "method": plan.settings.method, "segment_frames": plan.settings.segment_frames,
        "drift_table": plan.drift_out.name}})
    summary = write_table(corrected, plan.output, meta=meta, format=plan.format,
                          overwrite=plan.overwrite)
    return UndriftResult(path=str(plan.output), drift_path=str(plan.drift_out),
                         plot_path=None if plan.plot is None else str(plan.plot),
                         rows=int(summary["rows"]), segments=len(curve.centres),
                         pairs_kept=curve.pairs_kept, pairs=curve.pairs,
                         max_drift_nm=float(np.hypot(*per_frame.T).max()))


def plot_drift(path: str | os.PathLike, per_frame: np.ndarray, curve: DriftCurve) -> None:
    """A PNG of the per-frame drift (x, y, nm against frame) with the segment estimates."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), dpi=120)
    ax = fig.add_subplot(1, 1, 1)
    for axis, name in enumerate(("x", "y")):
        line, = ax.plot(np.arange(curve.frames), per_frame[:, axis], label=f"d{name}")
        ax.plot(curve.centres, curve.drift_nm[:, axis], "o", color=line.get_color(), ms=3)
    ax.set_xlabel("frame")
    ax.set_ylabel("drift (nm)")
    ax.set_title(f"RCC drift: {len(curve.centres)} segments, "
                 f"{curve.pairs_kept}/{curve.pairs} pairs kept", fontsize="small")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")


__all__ = ["DriftCurve", "METHODS", "UndriftPlan", "UndriftResult", "UndriftSettings",
           "estimate_drift", "plot_drift", "prepare_undrift", "run_undrift",
           "segment_centres"]
