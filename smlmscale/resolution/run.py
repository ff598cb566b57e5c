"""Orchestration: ``smlmscale resolution --frc``, the FRC resolution of a localization table.

Two passes over the lazily read table, none through the driver: per-partition statistics
(rows, non-finite positions, the field's bounds), then the two halves
(:mod:`smlmscale.resolution.split`) rendered as histograms at ``pixel_size_nm`` partition by
partition and summed pairwise on the workers (:func:`smlmscale.render.graph.drawn`); the
FRC (:func:`smlmscale.resolution.frc.frc_curve`) runs on a worker too, so only the curve
comes back. The resolution is the inverse of the first frequency where the curve falls
below 1/7 (Nieuwenhuizen et al., Nat. Methods 2013). The curve is written with
``curve_out`` (CSV) and plotted with ``plot`` (PNG), each atomically.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smlmscale.errors import InputError
from smlmscale.render.draw import Drawing
from smlmscale.resolution.frc import THRESHOLD, crossing, frc_curve
from smlmscale.resolution.split import SPLITS, Halves
from smlmscale.settings import Settings, setting

MIN_LOCALIZATIONS = 100
MAX_SIDE_PX = 8192


@dataclass(frozen=True)
class ResolutionSettings(Settings):
    """How the FRC is measured.

    Attributes
    ----------
    pixel_size_nm : float
        Render pixel size of the two halves' images, nm (well under the expected
        resolution: the curve reaches only to 1 / (2 pixel_size_nm)).
    split : {"random", "frames"}
        Random per localization, or alternating blocks of frames.
    seed : int
        Of the random split.
    block_frames : int
        Frames per block of ``split="frames"``.
    smooth_rings : int
        Width of the running mean over the curve's rings (1: none).
    """

    pixel_size_nm: float = setting(5.0, min=0, min_open=True, unit="nm",
                                   help="Render pixel size of the two halves")
    split: str = setting("random", choices=SPLITS,
                         help="Split the localizations at random or by blocks of frames")
    seed: int = setting(0, min=0, help="Seed of the random split")
    block_frames: int = setting(500, min=1, unit="frames",
                                help="Block length of --split frames")
    smooth_rings: int = setting(3, min=1, flag="--smooth", unit="rings",
                                help="Width of the running mean over the curve")


@dataclass(frozen=True, eq=False)
class ResolutionPlan:
    """A checked FRC (:func:`prepare_resolution`)."""

    locs: str
    curve_out: Path | None
    plot: Path | None
    overwrite: bool
    table: Any
    settings: ResolutionSettings


@dataclass(frozen=True)
class ResolutionResult:
    """The FRC: ``resolution_nm`` (None when the curve stays above 1/7 up to Nyquist),
    the curve (``frequency_per_nm``, ``frc``), the ``halves`` sizes, the image ``shape``
    (render px) and the files written."""

    resolution_nm: float | None
    frequency_per_nm: np.ndarray
    frc: np.ndarray
    halves: tuple[int, int]
    shape: tuple[int, int]
    pixel_nm: float
    curve_path: str | None
    plot_path: str | None


def prepare_resolution(locs: str | os.PathLike, *, settings: ResolutionSettings | None = None,
                       curve_out: str | os.PathLike | None = None,
                       plot: str | os.PathLike | None = None, overwrite: bool = False,
                       blocksize: int | str | None = None) -> ResolutionPlan:
    """Check an FRC (no cluster): the outputs, the table's columns.

    Parameters
    ----------
    locs : str or os.PathLike
        Any table format smlmscale reads (opened lazily).
    settings : ResolutionSettings, optional
    curve_out : str or os.PathLike, optional
        CSV of the curve (``frequency_per_nm``, ``resolution_nm``, ``frc``).
    plot : str or os.PathLike, optional
        PNG of the curve.
    overwrite : bool
    blocksize : int or str, optional
        Bytes per partition of the reader.

    Raises
    ------
    InputError
        An existing output, a plot not ``.png``, an unreadable table.
    """
    from smlmscale.io.outputs import check_output, check_plot_path
    from smlmscale.io.tables import read_table_lazy

    settings = settings or ResolutionSettings()
    curve_out = Path(curve_out) if curve_out else None
    plot = check_plot_path(plot, overwrite=overwrite, what="FRC plot") if plot else None
    if curve_out is not None:
        check_output(curve_out, kind="file", overwrite=overwrite)
    kwargs = {} if blocksize is None else {"blocksize": blocksize}
    table, _ = read_table_lazy(locs, **kwargs)       # frame, x_nm, y_nm are checked there
    return ResolutionPlan(locs=str(locs), curve_out=curve_out, plot=plot, overwrite=overwrite,
                          table=table, settings=settings)


def _bounds(part) -> dict:
    xy = part[["x_nm", "y_nm"]].to_numpy(np.float64)
    finite = np.isfinite(xy).all(axis=1)
    good = xy[finite]
    return {"rows": len(part), "not_finite": int((~finite).sum()),
            "low": good.min(axis=0) if len(good) else None,
            "high": good.max(axis=0) if len(good) else None}


def field_of(stats: list[dict], settings: ResolutionSettings, *, path: str) -> Halves:
    """The halves' kernel for the field the partitions' ``stats`` span.

    Raises
    ------
    InputError
        NaN positions, too few localizations, a field too large for the pixel size.
    """
    rows = sum(s["rows"] for s in stats)
    bad = sum(s["not_finite"] for s in stats)
    if bad:
        raise InputError(f"{bad} localizations have NaN or infinite x/y", path=path,
                         hint="drop them first (smlmscale filter or your own tool)")
    if rows < MIN_LOCALIZATIONS:
        raise InputError(f"FRC needs at least {MIN_LOCALIZATIONS} localizations, the table "
                         f"has {rows}", path=path, hint="give a larger table")
    low = np.min([s["low"] for s in stats if s["rows"]], axis=0)
    high = np.max([s["high"] for s in stats if s["rows"]], axis=0)
    pixel = settings.pixel_size_nm
    shape = (int(math.floor((high[1] - low[1]) / pixel)) + 1,
             int(math.floor((high[0] - low[0]) / pixel)) + 1)
    if max(shape) > MAX_SIDE_PX:
        raise InputError(f"a {shape[1]} x {shape[0]} px field is too large for the FRC "
                         f"(at most {MAX_SIDE_PX} px a side)", path=path,
                         hint="give a larger --pixel-size or crop the table")
    field = Drawing(shape=shape, pixel_nm=pixel, origin_nm=(float(low[0]), float(low[1])))
    return Halves(field=field, split=settings.split, seed=settings.seed,
                  block_frames=settings.block_frames)


def _frc(stack: np.ndarray, pixel_nm: float, smooth_rings: int) -> tuple:
    freq, frc = frc_curve(stack[0], stack[1], pixel_nm=pixel_nm, smooth_rings=smooth_rings)
    return freq, frc, (int(stack[0].sum()), int(stack[1].sum()))


def run_resolution(plan: ResolutionPlan, *, client, progress=None) -> ResolutionResult:
    """Measure the FRC of a :class:`ResolutionPlan` on the cluster; write the curve and plot.

    Raises
    ------
    InputError
        NaN positions, too few localizations (in all or in one half), a field too large.
    """
    from dask import delayed

    from smlmscale.render.graph import drawn

    settings = plan.settings
    table = plan.table[["frame", "x_nm", "y_nm"]]
    stats = client.compute([delayed(_bounds)(p) for p in table.to_delayed()], sync=True)
    halves = field_of(stats, settings, path=plan.locs)
    stack = delayed(lambda r: r[0])(drawn(table, halves))
    freq, frc, sizes = client.compute(
        delayed(_frc)(stack, settings.pixel_size_nm, settings.smooth_rings), sync=True)
    if min(sizes) < MIN_LOCALIZATIONS // 2:
        raise InputError(f"the halves hold {sizes[0]} and {sizes[1]} localizations",
                         path=plan.locs, hint="each needs at least "
                         f"{MIN_LOCALIZATIONS // 2}; give a smaller --block-frames or "
                         "--split random")
    at = crossing(freq, frc, threshold=THRESHOLD)
    result = ResolutionResult(resolution_nm=None if at is None else 1.0 / at,
                              frequency_per_nm=freq, frc=frc, halves=sizes,
                              shape=halves.field.shape, pixel_nm=settings.pixel_size_nm,
                              curve_path=None if plan.curve_out is None else str(plan.curve_out),
                              plot_path=None if plan.plot is None else str(plan.plot))
    _write_outputs(plan, result)
    return result


def _write_outputs(plan: ResolutionPlan, result: ResolutionResult) -> None:
    import pandas as pd

    from smlmscale.io.outputs import staged_output

    if plan.curve_out is not None:
        with staged_output(plan.curve_out, kind="file", overwrite=plan.overwrite) as staged:
            pd.DataFrame({"frequency_per_nm": result.frequency_per_nm,
                          "resolution_nm": 1.0 / result.frequency_per_nm,
                          "frc": result.frc}).to_csv(staged.path, index=False)
    if plan.plot is not None:
        with staged_output(plan.plot, kind="file", overwrite=plan.overwrite) as staged:
            plot_frc(staged.path, result)


def plot_frc(path: str | os.PathLike, result: ResolutionResult) -> None:
    """A PNG of the FRC curve against spatial frequency, the 1/7 threshold and crossing."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.8), dpi=120)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(result.frequency_per_nm, result.frc, label="FRC")
    ax.axhline(THRESHOLD, color="grey", ls="--", lw=1, label="1/7")
    if result.resolution_nm is not None:
        ax.axvline(1.0 / result.resolution_nm, color="tab:red", lw=1,
                   label=f"{result.resolution_nm:.1f} nm")
        title = f"FRC resolution {result.resolution_nm:.1f} nm"
    else:
        title = f"FRC above 1/7 up to Nyquist (< {2 * result.pixel_nm:g} nm)"
    ax.set_xlabel("spatial frequency (1/nm)")
    ax.set_ylabel("FRC")
    ax.set_ylim(min(-0.1, float(np.nanmin(result.frc, initial=0.0))), 1.05)
    ax.set_title(f"{title}; halves of {result.halves[0]} and {result.halves[1]}",
                 fontsize="small")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")


__all__ = ["MIN_LOCALIZATIONS", "ResolutionPlan", "ResolutionResult", "ResolutionSettings",
           "field_of", "plot_frc", "prepare_resolution", "run_resolution"]
