"""The ``fusion`` generator (seed 001, spectral SMLM): settings and graph builder.

:func:`build_fusion` plans on the driver and cuts on the workers:

1. **Table to the driver.** DBSCAN needs every position at once, so each part
   of the :class:`~smlmscale.patches.frames.FrameTable` is filtered where it is
   read (``photons > signal_min``, finite positions) and only ``frame``,
   ``x_nm`` and ``y_nm`` of the surviving rows travel to the driver (24 bytes a
   row), through the :class:`~smlmscale.patches.base.Runner`.
2. **Plan** (driver, NumPy): DBSCAN, runs of consecutive frames and their boxes
   (:mod:`smlmscale.patches.fusion`); this needs the table only.
3. **Tasks**: runs, ordered by first frame, are grouped by the movie chunk
   (along ``t``) holding their first frame (a group is split beyond
   ``MAX_EVENTS`` events); each task is
   ``delayed(fusion_block)(movie[f0:f1], runs, ...)`` with ``movie[f0:f1]``
   covering every frame of its runs and ``runs`` a small int64 array. The number
   of patches depends on the pixels (the SF selection), so the work is streamed
   (``sizes=None``). Patches do not depend on the movie's chunking or the
   number of workers: each run's random draws are seeded by ``(seed, run)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlmscale.errors import InputError
from smlmscale.patches.base import Generated, Runner, auto_chunk
from smlmscale.patches.fusion import consecutive_runs, draw_boxes, fusion_block
from smlmscale.settings import Settings, flag_of, setting

#: Events (patches before selection) per task at most; larger groups of runs are split.
MAX_EVENTS = 4096


#: Fields that must be positive when given (``None`` picks a default).
_POSITIVE = ("eps_nm", "scale", "spectral_amplification")


@dataclass(frozen=True)
class FusionSettings(Settings):
    """Parameters of the ``fusion`` generator (px = camera pixels; defaults from seed 001).

    Attributes
    ----------
    signal_min : float
        Keep rows with ``photons > signal_min`` (photons, or PeakFit ``Signal`` units).
    eps_nm : float, optional
        DBSCAN radius, nm; ``None``: half a camera pixel.
    min_samples : int
        DBSCAN core-point neighbours (the point included).
    min_run : int
        Keep runs of consecutive frames with more than this many events (>= 1).
    box_px : int
        Side of the localization box, px.
    shift_px : int
        Largest random shift of the box around the emitter, px.
    spectral_offset_px : int, optional
        Columns from the emitter to the spectral box (230 in the seed); ``None``:
        localization boxes only.
    spectral_jitter_px : (int, int)
        Inclusive range of the random offset added to ``spectral_offset_px``, px.
    row_jitter_px : int
        Largest random row shift of the spectral box, px.
    spectral_width_px : int
        Width of the spectral box, px.
    scale : float, optional
        Raw pixels are divided by it; ``None``: ``2**(8 * itemsize)`` for integer
        movies (``2**16`` for uint16), 1 for float movies.
    tophat_radius_px : int
        Disk radius of the targets' white top-hat, px.
    spectral_amplification : float
        The fused spectral part is divided by this times its maximum (``ampFact``).
    min_peak : float
        Drop events whose raw localization part stays below it (normalized units).
    seed : int
        Seeds every run's draws, with the run number.
    """

    settings_crossed_limit = True

    signal_min: float = setting(5000.0, help="Keep events with more photons")
    eps_nm: float | None = setting(None, min=0, min_open=True, unit="nm", help="DBSCAN eps",
                                   default_text="half a pixel")
    min_samples: int = setting(3, min=1, help="DBSCAN min samples")
    min_run: int = setting(8, min=1, help="Keep runs of consecutive frames longer than this")
    box_px: int = setting(16, min=2, unit="px", help="Localization box side")
    shift_px: int = setting(6, min=0, unit="px", help="Random box shift (+-)")
    spectral_offset_px: int | None = setting(None, unit="px", help="Spectral box distance",
                                             default_text="none: no spectral box")
    spectral_jitter_px: tuple[int, int] = setting((-10, 20), ordered=True, unit="px",
                                                  help="LOW:HIGH added to the spectral offset")
    row_jitter_px: int = setting(1, min=0, unit="px", help="Spectral box row jitter (+-)")
    spectral_width_px: int = setting(48, min=1, unit="px", help="Spectral box width")
    scale: float | None = setting(None, min=0, min_open=True, help="Divide pixels by this",
                                  default_text="2^bits for integers, 1 for floats")
    tophat_radius_px: int = setting(10, min=1, unit="px", help="Top-hat disk radius")
    spectral_amplification: float = setting(0.5, min=0, min_open=True,
                                            help="Spectral part divided by this x its max")
    min_peak: float = setting(0.09, help="Drop events whose normalized box peak is lower")
    seed: int = setting(0, min=0, help="Seeds every run's draws, with the run number")

    def __post_init__(self) -> None:
        for name in _POSITIVE:  # named before the shared check, which says "a positive number"
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and not (np.isfinite(value) and value > 0):
                raise InputError(f"{{flag}} must be positive, got {value}", param=name,
                                 flag=flag_of(self, name))
        super().__post_init__()

    @property
    def patch_width_px(self) -> int:
        """Width of a patch, px: the box, plus the spectral box when there is one."""
        return self.box_px + (0 if self.spectral_offset_px is None else self.spectral_width_px)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """``(box_px, patch_width_px, 1)`` of both inputs and targets."""
        return (self.box_px, self.patch_width_px, 1)


def default_scale(dtype) -> float:
    """``2**(8 * itemsize)`` for integer dtypes (65536 for uint16), else 1."""
    dtype = np.dtype(dtype)
    return float(2 ** (8 * dtype.itemsize)) if np.issubdtype(dtype, np.integer) else 1.0


def _driver_rows(part, signal_min: float):
    """``(rows read, frame, x_nm, y_nm)`` of the rows of ``part`` that pass the filter."""
    photons = part["photons"].to_numpy(np.float64)
    x = part["x_nm"].to_numpy(np.float64)
    y = part["y_nm"].to_numpy(np.float64)
    keep = (photons > signal_min) & np.isfinite(x) & np.isfinite(y)
    return len(part), part["frame"].to_numpy(np.int64)[keep], x[keep], y[keep]


def gather_rows(table, runner: Runner, *, signal_min: float):
    """Filtered ``frame, x_nm, y_nm`` of the whole table on the driver, sorted by frame.

    Returns ``(n_rows, frames, x_nm, y_nm)``, ``n_rows`` counting every row read.
    """
    import dask

    if "photons" not in table.columns:
        raise InputError("the fusion generator needs a photons column", path=table.path,
                         hint="give a table with photons (PeakFit Signal)")
    results = runner.compute(*[dask.delayed(_driver_rows, pure=True)(p, signal_min)
                               for p in table.parts])
    n_rows = sum(r[0] for r in results)
    frames, x, y = (np.concatenate([r[i] for r in results]) if results else np.zeros(0)
                    for i in (1, 2, 3))
    order = np.argsort(frames, kind="stable")
    return n_rows, frames[order].astype(np.int64), x[order], y[order]


def plan_runs(frames, x_nm, y_nm, *, pixel_size_nm: float, height: int, width: int,
              settings: FusionSettings):
    """DBSCAN, runs and boxes (driver side).

    Parameters
    ----------
    frames, x_nm, y_nm : ndarray
        Filtered rows, sorted by frame.
    pixel_size_nm : float
    height, width : int
        Frame shape, px.
    settings : FusionSettings

    Returns
    -------
    runs : pandas.DataFrame
        The long enough runs, numbered by the index: ``label, first_frame,
        length, first_row, row0, col0, srow0, scol0, inside`` (``inside``: both
        boxes lie in the frame).
    stats : dict
        ``clusters``, ``runs`` (any length), ``longest_run`` (events).
    """
    from sklearn.cluster import DBSCAN

    eps = settings.eps_nm if settings.eps_nm is not None else pixel_size_nm / 2
    xy = np.column_stack([x_nm, y_nm])
    labels = DBSCAN(eps=eps, min_samples=settings.min_samples).fit_predict(xy)
    runs, n_runs, longest = consecutive_runs(frames, labels, min_run=settings.min_run)
    first = runs["first_row"].to_numpy()
    boxes = draw_boxes(x_nm[first], y_nm[first], pixel_size_nm=pixel_size_nm,
                       seed=settings.seed, box_px=settings.box_px, shift_px=settings.shift_px,
                       spectral_offset_px=settings.spectral_offset_px,
                       spectral_jitter_px=settings.spectral_jitter_px,
                       row_jitter_px=settings.row_jitter_px)
    for i, name in enumerate(("row0", "col0", "srow0", "scol0")):
        runs[name] = boxes[:, i]
    box, spec = settings.box_px, settings.patch_width_px - settings.box_px
    runs["inside"] = ((runs.row0 >= 0) & (runs.row0 + box <= height) & (runs.col0 >= 0)
                      & (runs.col0 + box <= width) & (runs.srow0 >= 0)
                      & (runs.srow0 + box <= height) & (runs.scol0 >= 0)
                      & (runs.scol0 + spec <= width))
    stats = {"clusters": int(np.unique(labels[labels >= 0]).size), "runs": n_runs,
             "longest_run": longest}
    return runs, stats


def check_geometry(settings: FusionSettings, height: int, width: int, path) -> None:
    """Refuse boxes that do not fit in a ``height x width`` frame (``path`` named)."""
    box = settings.box_px
    if box > min(height, width):
        raise InputError(f"the {box}x{box} px box is larger than the {height}x{width} frame",
                         path=path, hint="lower --box")
    if settings.spectral_offset_px is not None:
        need = box // 2 + settings.spectral_offset_px + settings.spectral_jitter_px[0] \
            + settings.spectral_width_px
        if need > width:
            raise InputError(f"the spectral box ({settings.spectral_offset_px} px from the "
                             f"emitter, {settings.spectral_width_px} px wide) does not fit in "
                             f"the {width} px wide frame", path=path,
                             hint="lower --spectral-offset or --spectral-width")


def _groups(runs, chunk_starts: np.ndarray) -> list[np.ndarray]:
    """Run indices per task: same movie chunk of the first frame, at most MAX_EVENTS events."""
    chunk_of = np.searchsorted(chunk_starts, runs["first_frame"].to_numpy(), side="right")
    lengths = runs["length"].to_numpy()
    groups, current, events = [], [], 0
    for i in range(len(runs)):
        if current and (chunk_of[i] != chunk_of[current[-1]]
                        or events + lengths[i] > MAX_EVENTS):
            groups.append(np.array(current))
            current, events = [], 0
        current.append(i)
        events += lengths[i]
    if current:
        groups.append(np.array(current))
    return groups


def build_fusion(movie, table, *, pixel_size_nm: float,
                 settings: FusionSettings = FusionSettings(), chunk: int | None = None,
                 runner: Runner | None = None) -> Generated:
    """Lazy fusion training pairs of a movie and its localization table.

    Parameters
    ----------
    movie : dask.array.Array
        ``(t, y, x)`` raw movie, chunked along ``t`` only.
    table : smlmscale.patches.frames.FrameTable
        With ``frame``, ``x_nm``, ``y_nm``, ``photons``.
    pixel_size_nm : float
        Camera pixel size, nm.
    settings : FusionSettings
    chunk : int, optional
        Patches per output chunk; default :func:`~smlmscale.patches.base.auto_chunk`.
    runner : Runner, optional
        Computes the filtered table columns (default: the current scheduler).

    Returns
    -------
    Generated
        Streamed tasks (``sizes=None``), one per group of runs, in run order.

    Raises
    ------
    InputError
        No photons column; table frames beyond the movie; boxes larger than the
        frame; no row above ``signal_min``; no run longer than ``min_run``; every
        run's boxes leaving the frame.
    """
    import dask

    runner = runner or Runner()
    n_frames, height, width = movie.shape
    check_geometry(settings, height, width, table.path)
    table.check_frames(n_frames)
    n_rows, frames, x_nm, y_nm = gather_rows(table, runner, signal_min=settings.signal_min)
    if not frames.size:
        raise InputError(f"no localization has photons above {settings.signal_min:g} "
                         f"({n_rows} rows)", path=table.path, hint="lower --signal-min")
    runs, stats = plan_runs(frames, x_nm, y_nm, pixel_size_nm=pixel_size_nm, height=height,
                            width=width, settings=settings)
    if not len(runs):
        raise InputError(f"no run of consecutive frames is longer than {settings.min_run} "
                         f"frames ({stats['clusters']} clusters, the longest run has "
                         f"{stats['longest_run']} frames)", path=table.path,
                         hint="lower --min-run, raise --eps or lower --min-samples")
    inside = runs[runs["inside"]].reset_index(drop=True)
    if not len(inside):
        raise InputError(f"the boxes of all {len(runs)} runs leave the {height}x{width} frame",
                         path=table.path, hint="lower --box, --shift or --spectral-offset")
    scale = settings.scale if settings.scale is not None else default_scale(movie.dtype)
    chunk_starts = np.cumsum((0,) + tuple(movie.chunks[0]))[1:-1]
    spectral = settings.patch_width_px - settings.box_px
    columns = ["first_frame", "length", "row0", "col0", "srow0", "scol0"]
    tasks = []
    for group in _groups(inside, chunk_starts):
        part = inside.iloc[group]
        f0 = int(part["first_frame"].iloc[0])
        f1 = int((part["first_frame"] + part["length"]).max())
        tasks.append(dask.delayed(fusion_block, pure=True)(
            movie[f0:f1], part[columns].to_numpy(np.int64), first_frame=f0,
            box_px=settings.box_px, spectral_width_px=spectral, scale=scale,
            amplification=settings.spectral_amplification,
            tophat_radius_px=settings.tophat_radius_px, min_peak=settings.min_peak))
    shape = settings.output_shape
    stats = {"localizations": int(n_rows), "after_signal_filter": int(frames.size),
             "clusters": stats["clusters"], "runs": stats["runs"],
             "longest_run": stats["longest_run"], "runs_long_enough": int(len(runs)),
             "runs_kept": int(len(inside)), "runs_off_frame": int(len(runs) - len(inside)),
             "events_in_kept_runs": int(inside["length"].sum())}
    normalization = {
        "scale": scale,
        "inputs": f"raw pixels / {scale:g}",
        "targets": "leave-one-out SF-weighted fusion of the run's other raw patches; "
                   "localization part / its max, spectral part / "
                   f"({settings.spectral_amplification:g} * its max), each white top-hat "
                   f"(disk, radius {settings.tophat_radius_px} px)",
        "selection": "SF(target)/SF(raw) > (max - min)/2 over the run, raw localization "
                     f"max >= {settings.min_peak:g}"}
    return Generated(
        tasks=tasks, input_shape=shape, target_shape=shape, sizes=None,
        chunk=int(chunk) if chunk else auto_chunk(shape, shape),
        attrs={"generator": "fusion", "params": settings.to_mapping(), "upsampling": 1,
               "pixel_size_nm": float(pixel_size_nm), "normalization": normalization,
               "stats": stats},
        empty_reason=f"no event of the {len(inside)} runs passed the SF selection and "
                     f"reached min-peak {settings.min_peak:g}",
        empty_hint="lower --min-peak, or check --scale")


__all__ = ["FusionSettings", "MAX_EVENTS", "build_fusion", "check_geometry", "default_scale",
           "gather_rows", "plan_runs"]
