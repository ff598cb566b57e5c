"""The ``frames`` generator as a Dask graph: plan from the table, calibrate, one task per chunk.

1. **Plan** (:func:`~smlmscale.patches.plan.plan_movie`): the kept candidates of every
   frame, seeded by ``(seed, frame)``, from the table alone; the results stay on the
   workers, the corners come to the driver.
2. **Calibration** (one :meth:`Runner.compute`): per plan part, the collisions, the
   largest occupied-pixel count and the z range (:func:`.stacks_targets.occupancy_stats`);
   and, unless both are given, the normalization from a sample of frames
   (:func:`.stacks.intensity_levels`; a simulation's offset is its camera baseline).
3. **Pairs** (planned: one task per output chunk of ``chunk`` patches): the task takes
   the movie chunks that hold the frames its stacks need (each patch's frame and its
   halo of :meth:`FramesSettings.halo` frames on each side, across chunk boundaries,
   shared by key so one computation reads a chunk once), keeps those frames only and
   cuts the stacks and targets (:func:`.stacks_targets.stack_pairs`). A simulation's
   background map is rebuilt inside the task from its settings (cached per process).

Nothing depends on the movie's chunks: which patches exist and their content follow
from the table, the seed and the pixels.
"""

from __future__ import annotations


import numpy as np

from smlmscale.errors import InputError
from smlmscale.patches.base import Generated, Runner, auto_chunk, chunk_sizes
from smlmscale.patches.deepstorm_graph import _chunk_members
from smlmscale.patches.frames import FrameTable
from smlmscale.patches.plan import plan_movie
from smlmscale.patches.stacks import (OFFSET_PERCENTILE, SCALE_PERCENTILE, FramesSettings,
                                      intensity_levels, needed_frames, sample_frames,
                                      target_channels)
from smlmscale.patches.stacks_targets import (BACKGROUND_PERCENTILE, occupancy_stats,
                                              stack_pairs)


def simulation_settings(store, shape: tuple):
    """The :class:`~smlmscale.simulate.settings.MovieSettings` of a smlmscale simulation
    store of ``shape`` ``(t, y, x)``; ``None`` for any other store (or none)."""
    attrs = getattr(store, "attrs", None) or {}
    if attrs.get("kind") != "simulation" or not isinstance(attrs.get("settings"), dict):
        return None
    from smlmscale.simulate.settings import MovieSettings

    try:
        settings = MovieSettings.from_mapping(attrs["settings"])
    except InputError:  # written by another version: use it as plain data
        return None
    if (settings.frames, *settings.size_px) != tuple(shape):
        return None
    return settings


def photons_per_adu(simulation) -> float | None:
    """Photons (reaching the camera) per ADU above the baseline of a simulated camera."""
    if simulation is None:
        return None
    camera = simulation.camera
    return float(camera.e_per_adu / (camera.qe * camera.em_gain))


def gather_frames(blocks: list, starts: list[int], frames: np.ndarray) -> np.ndarray:
    """Frames ``frames`` (sorted) from movie chunks ``blocks`` that start at ``starts``."""
    parts = []
    for block, start in zip(blocks, starts):
        mine = frames[(frames >= start) & (frames < start + len(block))] - start
        if mine.size:
            parts.append(np.asarray(block[mine]))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _pairs(blocks, starts, frames, corners, plans, offsets, start, stop, *, n_frames,
           settings, levels, is_3d, simulation):
    members = _chunk_members(plans, offsets, start, stop)
    background = None
    if simulation is not None:
        from smlmscale.simulate.frames import movie_model

        background = movie_model(simulation).background
    return stack_pairs(gather_frames(blocks, starts, frames), frames, corners, members,
                       n_frames=n_frames, settings=settings, offset_adu=levels[0],
                       scale_adu=levels[1], is_3d=is_3d, background=background)


def _calibrate(movie, plan, runner: Runner, settings: FramesSettings, simulation,
               is_3d: bool) -> tuple[list, tuple[float, float]]:
    """Per plan part stats and the normalization, in one computation."""
    import dask

    offset = settings.offset_adu
    if offset is None and simulation is not None:
        offset = float(simulation.camera.baseline_adu)
    stats = [dask.delayed(occupancy_stats, pure=True)(part, max_emitters=settings.max_emitters,
                                                      is_3d=is_3d,
                                                      size_px=settings.patch_size_px)
             for part in plan.parts]
    if offset is not None and settings.scale_adu is not None:
        return list(runner.compute(*stats)), (float(offset), float(settings.scale_adu))
    sample = movie[sample_frames(movie.shape[0])]
    levels = dask.delayed(intensity_levels, pure=True)(sample, offset_adu=offset,
                                                       scale_adu=settings.scale_adu)
    *stats, levels = runner.compute(*stats, levels)
    return stats, levels


#: The photon head of locnet spans this times the brightest training emitter.
PHOTON_HEADROOM = 1.5


def _calibration_text(settings: FramesSettings, simulation, n_frames: int) -> dict:
    """Where the normalization and the background targets come from, in words."""
    sample = f"of {len(sample_frames(n_frames))} frames evenly spaced over the movie"
    offset = ("given" if settings.offset_adu is not None else "the simulated camera's "
              "baseline" if simulation is not None
              else f"percentile {OFFSET_PERCENTILE:g} {sample}")
    scale = ("given" if settings.scale_adu is not None
             else f"percentile {SCALE_PERCENTILE:g} {sample}, minus the offset")
    background = ("the simulator's expected background photons per pixel" if simulation
                  is not None else f"per pixel, percentile {BACKGROUND_PERCENTILE:g} over "
                  f"the {settings.background_frames} normalized frames centred on the target")
    return {"offset": offset, "scale": scale, "background": background}


def _attrs(settings: FramesSettings, table: FrameTable, stats: list, levels, simulation,
           is_3d: bool, n_frames: int) -> dict:
    collisions = sum(s["collisions"] for s in stats)
    largest = max((s["largest"] for s in stats), default=0)
    z_range = None
    if is_3d and simulation is not None:
        z_range = [float(v) for v in simulation.psf.z_range_nm]
    elif is_3d:
        lows = [s["z_lo_nm"] for s in stats if s["z_lo_nm"] is not None]
        highs = [s["z_hi_nm"] for s in stats if s["z_hi_nm"] is not None]
        z_range = [min(lows), max(highs)] if lows else None
    return {"generator": "frames", "params": settings.to_dict(), "upsampling": 1,
            "normalization": {"mode": "affine", "offset_adu": float(levels[0]),
                              "scale_adu": float(levels[1]),
                              "photons_per_adu": photons_per_adu(simulation)},
            "calibration": _calibration_text(settings, simulation, n_frames),
            "context": settings.context, "is_3d": bool(is_3d), "z_range_nm": z_range,
            "channels": list(target_channels(is_3d)),
            "background_units": "input" if simulation is None else "photons/px",
            "collisions": int(collisions),
            "max_emitters": int(min(largest, settings.max_emitters)),
            # the photon head's range: the brightest emitter with room to spare
            "photon_scale": PHOTON_HEADROOM * max((s["photons_hi"] for s in stats), default=0.0)
            or None,
            "stats": {"localizations": int(table.n_rows), "collisions": int(collisions),
                      "patches_over_max_emitters": int(sum(s["over"] for s in stats))}}


def build_frames(movie, table: FrameTable, *, pixel_size_nm: float, settings: FramesSettings,
                 chunk: int | None, runner: Runner, store=None) -> Generated:
    """Plan the ``frames`` patches, calibrate, and build one pair task per output chunk.

    Parameters
    ----------
    movie : dask.array.Array
        ``(t, y, x)`` camera frames, ADU, chunked along ``t`` only (any chunks).
    table : FrameTable
        Needs ``x_nm``, ``y_nm``, ``photons``; with a ``z_nm`` column the targets are 3D.
    pixel_size_nm : float
    settings : FramesSettings
    chunk : int, optional
        Patches per output chunk (default :func:`~smlmscale.patches.base.auto_chunk`).
    runner : Runner
        Runs the plan and the calibration.
    store : ImageStore, optional
        The store the movie was read from; its attributes tell a smlmscale simulation
        (camera baseline and photon calibration, background map, z range). None: the
        movie is not known to be a simulation (levels and background from the data).

    Returns
    -------
    Generated
        Planned: ``sizes`` known, tasks in patch order; ``attrs`` as the module says.
    """
    import dask

    n_frames = int(movie.shape[0])
    simulation = None if store is None else simulation_settings(store, movie.shape)
    is_3d = "z_nm" in table.columns
    target_shape = settings.target_shape(is_3d)
    chunk = chunk or auto_chunk(settings.input_shape, target_shape)
    plan = plan_movie(movie, table, runner, pixel_size_nm=pixel_size_nm,
                      size=settings.patch_size_px, per_frame=settings.per_frame,
                      min_emitters=settings.min_emitters, seed=settings.seed,
                      extra=("photons", "z_nm") if is_3d else ("photons",))
    empty = dict(empty_reason=f"no patch holds at least {settings.min_emitters} emitters",
                 empty_hint="lower --min-emitters, raise --per-frame or --patch-size")
    if plan.n == 0:
        return Generated(tasks=[], input_shape=settings.input_shape, target_shape=target_shape,
                         sizes=[], chunk=chunk, **empty)
    stats, levels = _calibrate(movie, plan, runner, settings, simulation, is_3d)
    halo = settings.halo(estimate_background=simulation is None)
    bounds = np.concatenate([[0], np.cumsum(movie.chunks[0])])
    blocks = movie.to_delayed().ravel()
    sizes, tasks, start = chunk_sizes(plan.n, chunk), [], 0
    for size in sizes:
        stop = start + size
        mine = plan.corners.iloc[start:stop].reset_index(drop=True)
        frames = needed_frames(mine["frame"].to_numpy(), halo=halo, n_frames=n_frames)
        used = np.unique(np.searchsorted(bounds, frames, side="right") - 1)
        parts = [i for i in range(len(plan.parts))
                 if plan.offsets[i] < stop and plan.offsets[i + 1] > start]
        tasks.append(dask.delayed(_pairs, pure=True)(
            list(blocks[used]), [int(bounds[i]) for i in used], frames, mine,
            [plan.parts[i] for i in parts], [int(plan.offsets[i]) for i in parts], start, stop,
            n_frames=n_frames, settings=settings, levels=levels, is_3d=is_3d,
            simulation=simulation))
        start = stop
    return Generated(tasks=tasks, input_shape=settings.input_shape, target_shape=target_shape,
                     sizes=sizes, chunk=chunk, held=plan.parts, **empty,
                     attrs=_attrs(settings, table, stats, levels, simulation, is_3d, n_frames))


__all__ = ["build_frames", "gather_frames", "photons_per_adu",
           "simulation_settings"]
