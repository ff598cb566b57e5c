"""The deepstorm generator as a Dask graph: plan from the table, then one task per output chunk.

1. **Plan** (:func:`~smlmscale.patches.plan.plan_movie`: one task per range of about
   4096 frames, aligned with the movie's chunks): ``plan_block`` on the table rows of
   the range (read inside the task from the table's parts). The results stay on the
   workers (persisted); only the corners ``(frame, row0, col0)`` come to the driver
   (24 bytes per patch), which numbers the patches and cuts them into output chunks.
2. **Pairs** (one task per output chunk of ``chunk`` patches): the movie chunks the
   output chunk's patches lie in (whole chunks, shared by key, so each is read and
   decompressed once however many output chunks it feeds), the chunk's corners and the
   emitters inside its patches (selected from the persisted plan results) ->
   ``(inputs, targets)``, the inputs normalized per frame or per patch.

The patch count is known before any pixel is read, so the orchestrator writes each
pair task's result straight into its chunk of the patch set from the worker.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smlmscale.patches.base import Generated, Runner, auto_chunk, chunk_sizes
from smlmscale.patches.deepstorm import DeepstormSettings, pairs_from_block
from smlmscale.patches.frames import FrameTable
from smlmscale.patches.plan import Plan, members_of, plan_movie

def normalization(settings) -> dict:
    """The ``normalization`` attribute of a deepstorm patch set (``mode`` is what predict reads)."""
    per = ("per frame (the whole frame before cutting)" if settings.normalize == "frame"
           else "per patch")
    return {"mode": settings.normalize,
            "inputs": f"{per}, (p - min) / (max - min) to [0, 1]; constant images 0",
            "upsampling": "nearest (pixel repetition)",
            "targets": "spikes (weight) at floor of upsampled position, Gaussian-blurred "
                       "(mode constant: tails beyond the patch edge are lost)"}


def _chunk_members(plans: list, offsets: list[int], start: int, stop: int) -> pd.DataFrame:
    """Members of global patches ``start .. stop - 1`` from the plan results that hold them."""
    parts = [members_of(plan[1], start - offset, stop - offset)
             for plan, offset in zip(plans, offsets)]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def frames_of(blocks: list, starts: list[int], f0: int, f1: int) -> np.ndarray:
    """Frames ``f0 .. f1 - 1`` from movie chunks ``blocks`` starting at frames ``starts``."""
    parts = [b[max(f0 - s, 0):f1 - s] for b, s in zip(blocks, starts)
             if s < f1 and s + len(b) > f0]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def movie_blocks(movie, f0: int, f1: int) -> tuple[list, list[int]]:
    """The Delayed movie chunks (along t) holding frames ``f0 .. f1 - 1``, and their starts.

    Tasks that take whole chunks share one read of each chunk (its key), where slicing
    the Dask array would make every task decompress the chunk again.
    """
    bounds = np.concatenate([[0], np.cumsum(movie.chunks[0])])
    first = int(np.searchsorted(bounds, f0, side="right")) - 1
    last = int(np.searchsorted(bounds, f1, side="left"))
    blocks = movie.to_delayed().ravel()
    return list(blocks[first:last]), [int(b) for b in bounds[first:last]]


def _pairs(blocks, starts, f0, f1, corners, plans, offsets, start, stop, settings, pairs):
    members = _chunk_members(plans, offsets, start, stop)
    return pairs(frames_of(blocks, starts, f0, f1), f0, corners, members, settings)


def pair_tasks(movie, plan: Plan, *, chunk: int, pairs, settings) -> tuple[list, list[int]]:
    """One pair task per output chunk of ``chunk`` patches of a plan, and their sizes.

    Each task calls ``pairs(block, first_frame, corners, members, settings)`` on the
    movie chunks its patches lie in (whole Delayed chunks, shared by key) and the
    emitters of its patches (selected from the persisted plan results).
    """
    import dask

    plans, offsets, everything = plan.parts, plan.offsets, plan.corners
    sizes = chunk_sizes(plan.n, chunk)
    tasks, start = [], 0
    for size in sizes:
        stop = start + size
        mine = everything.iloc[start:stop].reset_index(drop=True)
        f0, f1 = int(mine["frame"].iloc[0]), int(mine["frame"].iloc[-1]) + 1
        which = [i for i in range(len(plans)) if offsets[i] < stop and offsets[i + 1] > start]
        blocks, starts = movie_blocks(movie, f0, f1)
        tasks.append(dask.delayed(_pairs, pure=True)(
            blocks, starts, f0, f1, mine, [plans[i] for i in which],
            [int(offsets[i]) for i in which], start, stop, settings, pairs))
        start = stop
    return tasks, sizes


def plan_patches(movie, table: FrameTable, runner: Runner, *, pixel_size_nm: float,
                 settings, extra: tuple[str, ...]) -> Plan:
    """:func:`~smlmscale.patches.plan.plan_movie` with the settings' patch size, candidates
    per frame, emitters needed and seed."""
    return plan_movie(movie, table, runner, pixel_size_nm=pixel_size_nm,
                      size=settings.patch_size_px, per_frame=settings.per_frame,
                      min_emitters=settings.min_emitters, seed=settings.seed, extra=extra)


def empty_texts(settings) -> dict[str, str]:
    """``empty_reason`` and ``empty_hint`` of a :class:`Generated` of random patches."""
    return dict(empty_reason=f"no patch holds at least {settings.min_emitters} emitters",
                empty_hint="lower --min-emitters, raise --per-frame or --patch-size")


def build_deepstorm(movie, table: FrameTable, *, pixel_size_nm: float,
                    settings: DeepstormSettings, chunk: int | None, runner: Runner
                    ) -> Generated:
    """Plan the deepstorm patches and build one pair task per output chunk.

    Parameters
    ----------
    movie : dask.array.Array
        ``(t, y, x)``, chunked along ``t`` only.
    table : FrameTable
        Needs ``x_nm``, ``y_nm`` and :attr:`DeepstormSettings.member_columns`.
    pixel_size_nm : float
    settings : DeepstormSettings
    chunk : int, optional
        Patches per output chunk (default :func:`~smlmscale.patches.base.auto_chunk`).
    runner : Runner
        Runs the plan.

    Returns
    -------
    Generated
        Planned: ``sizes`` known, tasks in patch order.
    """
    chunk = chunk or auto_chunk(settings.input_shape, settings.target_shape)
    plan = plan_patches(movie, table, runner, pixel_size_nm=pixel_size_nm, settings=settings,
                        extra=settings.member_columns)
    tasks, sizes = pair_tasks(movie, plan, chunk=chunk, pairs=pairs_from_block,
                              settings=settings)
    return Generated(
        tasks=tasks, input_shape=settings.input_shape, target_shape=settings.target_shape,
        sizes=sizes, chunk=chunk, held=plan.parts,
        attrs={"generator": "deepstorm", "params": settings.to_dict(),
               "upsampling": settings.upsampling, "normalization": normalization(settings),
               "stats": {"localizations": int(table.n_rows)}}, **empty_texts(settings))


__all__ = ["build_deepstorm", "empty_texts", "frames_of", "movie_blocks", "pair_tasks",
           "plan_patches"]
