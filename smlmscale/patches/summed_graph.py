"""The ``summed`` generator as a Dask graph (the method: :mod:`smlmscale.patches.summed`).

Graph: **stage A**, one task per movie chunk (along ``t``) holding used sources,
cuts them (float32 ``(k, P, P)``); these are persisted, so the intermediate raw
patches live in cluster memory (spillable to disk by the workers), ``P * P * 4``
bytes per used source patch (about 2.7 kB for ``P = 26``). **Stage B**, one task
per output chunk of ``chunk`` summed patches, gathers its sources through small
selection tasks (one per stage-A task and per plan task it draws from, each
passing on only the rows it needs), adds them and unites their members:
``(raw (k, P, P) float32, localizations DataFrame)`` (:func:`summed_raw`); the
training-pair task applies :func:`summed_pairs` to it, and the TIFF export
(:mod:`smlmscale.patches.summed_export`) reads the same tasks. Sources are
spread over the whole movie, so a stage-B task depends on up to
``min(movie chunks, chunk * bin_size)`` selection tasks. Every size is known
from the table before a pixel is read, and the same seed gives the same patches
however the movie is chunked and however many workers run (the float64 sum of
the same values in the same order).
"""

from __future__ import annotations

import operator

import numpy as np

from smlmscale.errors import InputError
from smlmscale.patches.base import Generated, Runner, auto_chunk, chunk_sizes
from smlmscale.patches.plan import plan_movie
from smlmscale.patches.summed import (CARRIED, NORMALIZATION, SummedRaw, SummedSettings,
                                      assemble, cut_sources, summed_pairs, take_members)


def _assemble_task(layout: tuple, *parts):
    # Delayed arguments go in positionally: dask drops the futures of persisted
    # Delayed objects nested in list arguments from the graph (dask 2026.8).
    n_pieces, piece_slots, rows0, cols0, first, bin_size, offset = layout
    return assemble(list(parts[:n_pieces]), piece_slots, list(parts[n_pieces:]), rows0, cols0,
                    first=first, bin_size=bin_size, offset=offset)


def _pairs_task(raw_and_locs, first: int, settings: SummedSettings):
    return summed_pairs(*raw_and_locs, first=first, settings=settings)


def _groups(keys: np.ndarray):
    """``(key, positions)`` for each distinct key, positions ascending (O(n log n))."""
    order = np.argsort(keys, kind="stable")
    values, starts = np.unique(keys[order], return_index=True)
    return zip(values.tolist(), np.split(order, starts[1:]))


def _check(movie, table, settings: SummedSettings):
    if movie.ndim != 3:
        raise InputError(f"summed patches need a movie (t, y, x), got {movie.ndim} axes")
    _, height, width = movie.shape
    if settings.patch_size_px > min(height, width):
        raise InputError(f"patch size {settings.patch_size_px} px is larger than the "
                         f"{height}x{width} frame", hint="lower --patch-size")
    if settings.weight == "photons" and "photons" not in table.columns:
        raise InputError("--weight photons needs a photons column", path=table.path,
                         hint="use --weight one")
    return movie.rechunk({1: -1, 2: -1}) if max(map(len, movie.chunks[1:])) > 1 else movie


def summed_raw(movie, table, *, pixel_size_nm: float, settings: SummedSettings, chunk: int,
               runner: Runner) -> SummedRaw:
    """Plan the bins; one raw-sum task per output chunk (steps 1-3, stages A and B).

    Parameters
    ----------
    movie : dask.array.Array
        ``(t, y, x)`` raw camera values (ADU), chunked along ``t``.
    table : FrameTable
        ``x_nm``, ``y_nm``; ``photons`` and ``sigma_nm`` are carried when present.
    pixel_size_nm : float
    settings : SummedSettings
    chunk : int
        Summed patches per output chunk; 0 for :func:`~smlmscale.patches.base.auto_chunk`.
    runner : Runner
        Runs the plan and persists it and stage A (on the cluster when it has a client).

    Raises
    ------
    InputError
        Patch larger than the frame; photon weights without photons; fewer kept
        candidates than ``bin_size``.
    """
    import dask

    movie = _check(movie, table, settings)
    size, bs = settings.patch_size_px, settings.bin_size
    chunk = int(chunk or 0) or auto_chunk(settings.input_shape, settings.target_shape)
    carried = tuple(c for c in CARRIED if c in table.columns)
    plan = plan_movie(movie, table, runner, pixel_size_nm=pixel_size_nm, size=size,
                      per_frame=settings.per_frame, min_emitters=settings.min_emitters,
                      seed=settings.seed, extra=carried)
    plans, offsets, kept = plan.parts, plan.offsets, plan.corners
    n_kept = int(offsets[-1])
    if n_kept < bs:
        raise InputError(f"only {n_kept} candidate patches hold at least "
                         f"{settings.min_emitters} emitters, fewer than the bin size {bs}",
                         path=table.path, hint="lower --bin-size or --min-emitters, or raise "
                                               "--per-frame or --patch-size")
    frame, row0, col0 = (kept[c].to_numpy(np.int64) for c in ("frame", "row0", "col0"))
    n_bins = min(n_kept // bs, int(settings.n_summed or n_kept))
    sources = np.random.default_rng(settings.seed).permutation(n_kept)[:n_bins * bs]
    used = np.sort(sources)

    # stage A: cut the used sources, one task per movie chunk holding any; persisted
    starts = np.concatenate([[0], np.cumsum(movie.chunks[0])]).astype(np.int64)
    chunk_of = np.searchsorted(starts, frame[used], "right") - 1
    blocks = movie.to_delayed().ravel()
    cut, first_used = {}, {}
    for c, at in _groups(chunk_of):
        g = used[at]
        cut[c] = dask.delayed(cut_sources, pure=True)(blocks[c], frame[g] - starts[c], row0[g],
                                                      col0[g], size)
        first_used[c] = int(at[0])
    cut = dict(zip(cut, runner.persist(list(cut.values()))))
    members = {r: dask.delayed(operator.getitem, pure=True)(p, 1) for r, p in enumerate(plans)}

    # stage B: one raw task per output chunk, fed by small selections
    sizes = chunk_sizes(n_bins, chunk)
    tasks, first = [], 0
    for n in sizes:
        flat = sources[first * bs:(first + n) * bs]
        where = np.searchsorted(used, flat)
        pieces, piece_slots, member_pieces = [], [], []
        for c, slots in _groups(chunk_of[where]):
            pieces.append(dask.delayed(operator.getitem, pure=True)(
                cut[c], where[slots] - first_used[c]))
            piece_slots.append(slots)
        for r, slots in _groups(np.searchsorted(offsets, flat, "right") - 1):
            member_pieces.append(dask.delayed(take_members, pure=True)(
                members[r], flat[slots] - offsets[r], slots))
        layout = (len(pieces), piece_slots, row0[flat], col0[flat], first, bs,
                  float(settings.camera_offset))
        tasks.append(dask.delayed(_assemble_task, pure=True)(layout, *pieces, *member_pieces))
        first += n
    stats = {"candidates_kept": n_kept, "bins": int(n_bins), "sources_used": int(n_bins * bs),
             "sources_unused": int(n_kept - n_bins * bs)}
    return SummedRaw(tasks=tasks, sizes=sizes, chunk=chunk, settings=settings,
                     pixel_size_nm=float(pixel_size_nm), stats=stats, carried=carried)


def build_summed(movie, table, *, pixel_size_nm: float, settings: SummedSettings, chunk: int,
                 runner: Runner, raw: SummedRaw | None = None) -> Generated:
    """The ``summed`` generator: one training-pair task per output chunk (planned mode).

    Parameters
    ----------
    movie, table, pixel_size_nm, settings, chunk, runner
        As :func:`summed_raw`.
    raw : SummedRaw, optional
        :func:`summed_raw`'s result for the same arguments, to share it with
        :func:`~smlmscale.patches.summed_export.export_summed_tiff`; built when ``None``.

    Returns
    -------
    Generated
        ``sizes`` known; each task returns ``(inputs, targets)``, float32
        ``(k, P*u, P*u, 1)`` each.

    Raises
    ------
    InputError
        As :func:`summed_raw`.
    """
    import dask

    if raw is None:
        raw = summed_raw(movie, table, pixel_size_nm=pixel_size_nm, settings=settings,
                         chunk=chunk, runner=runner)
    s, firsts = raw.settings, np.cumsum([0, *raw.sizes])
    tasks = [dask.delayed(_pairs_task, pure=True)(t, int(f), s)
             for t, f in zip(raw.tasks, firsts)]
    return Generated(
        tasks=tasks, input_shape=s.input_shape, target_shape=s.target_shape, sizes=raw.sizes,
        chunk=raw.chunk,
        attrs={"generator": "summed", "params": s.to_mapping(), "upsampling": s.upsampling,
               "pixel_size_nm": raw.pixel_size_nm, "normalization": NORMALIZATION,
               "stats": raw.stats},
        empty_reason=f"fewer than {s.bin_size} patches hold at least {s.min_emitters} emitters",
        empty_hint="lower --bin-size or --min-emitters, or raise --per-frame or --patch-size")


__all__ = ["build_summed", "summed_raw"]
