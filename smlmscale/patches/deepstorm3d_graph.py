"""The deepstorm3d generator as a Dask graph: plan, resolve the z range, one task per chunk.

1. **Plan** (:func:`~smlmscale.patches.deepstorm_graph.plan_patches`, as ``deepstorm``):
   the kept candidates of every frame from the table alone, with the emitters' ``z_nm``
   (and ``photons``) carried; the results stay on the workers.
2. **z range** (one :meth:`Runner.compute` of a small summary per plan part,
   :func:`~smlmscale.patches.deepstorm3d.member_stats`): the collisions and the z extent of
   the emitters in the patches. A given ``--z-range`` must cover that extent (refused
   otherwise: a target outside the grid would be clipped into its first or last slice and
   teach the network a wrong z); without one, the range of a smlmscale 3D simulation
   (the movie's ``psf.z_range_nm``) or else the extent itself is used.
3. **Pairs** (:func:`~smlmscale.patches.deepstorm_graph.pair_tasks`: one task per output
   chunk of ``chunk`` patches, the movie chunks shared by key):
   :func:`~smlmscale.patches.deepstorm3d.pairs3d_from_block` with the resolved settings.

The patch count and every chunk's content follow from the table, the seed and the pixels,
not from the movie's chunks or the workers.
"""

from __future__ import annotations

from smlmscale.errors import InputError
from smlmscale.patches.base import Generated, Runner, auto_chunk
from smlmscale.patches.deepstorm3d import (TARGET_CHANNELS, Deepstorm3dSettings, member_stats,
                                           normalization, pairs3d_from_block)
from smlmscale.patches.deepstorm_graph import empty_texts, pair_tasks, plan_patches
from smlmscale.patches.frames import FrameTable


def resolve_z_range(settings: Deepstorm3dSettings, z_lo_nm: float, z_hi_nm: float,
                    simulated: tuple[float, float] | None, *, path: str
                    ) -> tuple[tuple[float, float], str]:
    """The z range of the voxel grid and where it comes from (``given``, ``simulation``,
    ``emitters``).

    Parameters
    ----------
    settings : Deepstorm3dSettings
    z_lo_nm, z_hi_nm : float
        The z extent of the emitters in the patches, nm.
    simulated : tuple of float or None
        A smlmscale simulation's axial range, nm.
    path : str
        The table, named in the error.

    Raises
    ------
    InputError
        A given (or simulated) range that does not cover ``[z_lo_nm, z_hi_nm]``.

    Examples
    --------
    >>> resolve_z_range(Deepstorm3dSettings(), -20.0, 35.0, None, path="t.csv")
    ((-20.0, 35.0), 'emitters')
    """
    if settings.z_range_nm is not None:
        (lo, hi), source = settings.z_range_nm, "given"
    elif simulated is not None:
        (lo, hi), source = simulated, "simulation"
    else:
        lo, hi = float(z_lo_nm), float(z_hi_nm)
        return (lo, hi if hi > lo else lo + 1.0), "emitters"
    if z_lo_nm < lo or z_hi_nm > hi:
        what = "--z-range" if source == "given" else "the simulation's z range"
        raise InputError(f"{what} {lo:g}:{hi:g} nm does not cover the emitters' z "
                         f"({z_lo_nm:g} to {z_hi_nm:g} nm)", path=path,
                         hint="give a --z-range that covers them, or leave it out to use "
                              "their extent")
    return (float(lo), float(hi)), source


def _simulated_range(store, shape) -> tuple[float, float] | None:
    from smlmscale.patches.stacks_graph import simulation_settings

    simulation = None if store is None else simulation_settings(store, shape)
    if simulation is None or not simulation.psf.is_3d:
        return None
    return tuple(float(v) for v in simulation.psf.z_range_nm)


def build_deepstorm3d(movie, table: FrameTable, *, pixel_size_nm: float,
                      settings: Deepstorm3dSettings, chunk: int | None, runner: Runner,
                      store=None) -> Generated:
    """Plan the deepstorm3d patches, resolve the z range and build one task per chunk.

    Parameters
    ----------
    movie : dask.array.Array
        ``(t, y, x)`` camera frames, ADU, chunked along ``t`` only.
    table : FrameTable
        Needs ``x_nm``, ``y_nm``, ``z_nm`` (``photons`` used when there).
    pixel_size_nm : float
    settings : Deepstorm3dSettings
    chunk : int, optional
        Patches per output chunk (default :func:`~smlmscale.patches.base.auto_chunk`).
    runner : Runner
        Runs the plan and the z summary.
    store : ImageStore, optional
        The movie's store; a smlmscale 3D simulation gives the default z range.

    Returns
    -------
    Generated
        Planned; ``attrs`` hold what training and ``predict`` need: ``z_range_nm``,
        ``z_voxels``, ``voxel_nm`` (lateral, axial), ``upsampling``, ``normalization``,
        ``channels`` and the resolved ``params``.
    """
    import dask

    chunk = chunk or auto_chunk(settings.input_shape, settings.target_shape)
    extra = ("z_nm", "photons") if "photons" in table.columns else ("z_nm",)
    plan = plan_patches(movie, table, runner, pixel_size_nm=pixel_size_nm, settings=settings,
                        extra=extra)
    shapes = dict(input_shape=settings.input_shape, target_shape=settings.target_shape)
    if plan.n == 0:
        return Generated(tasks=[], sizes=[], chunk=chunk, **shapes, **empty_texts(settings))
    stats = runner.compute(*[dask.delayed(member_stats, pure=True)(p) for p in plan.parts])
    used = [s for s in stats if s["z_lo_nm"] is not None]
    z_lo, z_hi = min(s["z_lo_nm"] for s in used), max(s["z_hi_nm"] for s in used)
    z_range, source = resolve_z_range(settings, z_lo, z_hi,
                                      _simulated_range(store, movie.shape), path=table.path)
    settings = settings.replace(z_range_nm=z_range)
    tasks, sizes = pair_tasks(movie, plan, chunk=chunk, pairs=pairs3d_from_block,
                              settings=settings)
    collisions = int(sum(s["collisions"] for s in stats))
    attrs = {"generator": "deepstorm3d", "params": settings.to_dict(),
             "upsampling": settings.upsampling, "normalization": normalization(settings),
             "z_range_nm": list(z_range), "z_range_source": source,
             "z_voxels": settings.z_voxels,
             "voxel_nm": [pixel_size_nm / settings.upsampling, settings.voxel_nm],
             "channels": list(TARGET_CHANNELS), "collisions": collisions,
             "stats": {"localizations": int(table.n_rows), "collisions": collisions,
                       "z_extent_nm": [float(z_lo), float(z_hi)]}}
    return Generated(tasks=tasks, sizes=sizes, chunk=chunk, held=plan.parts, attrs=attrs,
                     **shapes, **empty_texts(settings))


__all__ = ["build_deepstorm3d", "resolve_z_range"]
