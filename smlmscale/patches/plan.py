"""Where random patches go, decided from the table alone (deepstorm and summed).

Per frame ``f``, ``per_frame`` candidate corners are drawn with
``numpy.random.default_rng([seed, f])``: rows then columns, each
``integers(0, side - size + 1, per_frame)``. A candidate is kept when at least
``min_emitters`` emitters lie inside it (``c0 <= x_px < c0 + size`` and the same
for rows, ``x_px = x_nm / pixel_size_nm`` from the pixel corner); rejected
candidates are not redrawn. Because whether a patch is kept depends on the
table and the seed only, the number of patches, their order (frame, then draw)
and every output chunk's content are known before a pixel is read, and they are
the same however the movie is chunked and however many workers run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Frames planned per plan task (rounded to whole movie chunks).
PLAN_FRAMES = 4096


def frame_corners(frame: int, *, seed: int, per_frame: int, height: int, width: int,
                  size: int) -> tuple[np.ndarray, np.ndarray]:
    """The candidate corners ``(rows0, cols0)`` of ``frame`` (camera px), ``per_frame`` each."""
    rng = np.random.default_rng([seed, frame])
    rows0 = rng.integers(0, height - size + 1, per_frame)
    cols0 = rng.integers(0, width - size + 1, per_frame)
    return rows0, cols0


def plan_block(rows: pd.DataFrame, *, t0: int, t1: int, height: int, width: int,
               pixel_size_nm: float, size: int, per_frame: int, min_emitters: int,
               seed: int, extra: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The kept candidates of frames ``t0 .. t1 - 1`` and the emitters inside them.

    Parameters
    ----------
    rows : pandas.DataFrame
        The table rows of those frames, sorted by frame: ``frame``, ``x_nm``, ``y_nm``
        and the ``extra`` columns.
    t0, t1 : int
        Frame range (frames without rows are planned too when ``min_emitters`` is 0).
    height, width : int
        Frame shape, px.
    pixel_size_nm : float
    size, per_frame, min_emitters, seed : int
        Patch side (px), candidates per frame, emitters needed, seed.
    extra : tuple of str
        Further columns carried into ``members`` (``photons``, ``z_nm``).

    Returns
    -------
    patches : pandas.DataFrame
        One row per kept patch, in order: ``frame``, ``row0``, ``col0`` (px), ``n``
        (emitters inside), all int64.
    members : pandas.DataFrame
        One row per (patch, emitter inside it): ``patch`` (0-based index into
        ``patches``), ``x_px``, ``y_px`` (absolute camera px, float64) and ``extra``.
    """
    frames = rows["frame"].to_numpy(np.int64)
    x_px = rows["x_nm"].to_numpy(np.float64) / pixel_size_nm
    y_px = rows["y_nm"].to_numpy(np.float64) / pixel_size_nm
    carried = {c: rows[c].to_numpy() for c in extra}
    plan, member_rows, member_patch = [], [], []
    if min_emitters > 0:
        candidates = np.unique(frames)
        candidates = candidates[(candidates >= t0) & (candidates < t1)]
    else:
        candidates = np.arange(t0, t1)
    bounds = np.searchsorted(frames, np.stack([candidates, candidates + 1]))
    for frame, lo, hi in zip(candidates, bounds[0], bounds[1]):
        r0s, c0s = frame_corners(int(frame), seed=seed, per_frame=per_frame, height=height,
                                 width=width, size=size)
        fx, fy = x_px[lo:hi], y_px[lo:hi]
        inside = ((fx[None] >= c0s[:, None]) & (fx[None] < c0s[:, None] + size)
                  & (fy[None] >= r0s[:, None]) & (fy[None] < r0s[:, None] + size))
        counts = inside.sum(axis=1)
        for k in np.flatnonzero(counts >= min_emitters):
            which = lo + np.flatnonzero(inside[k])
            member_patch.append(np.full(which.size, len(plan), np.int64))
            member_rows.append(which)
            plan.append((int(frame), int(r0s[k]), int(c0s[k]), int(counts[k])))
    patches = pd.DataFrame(plan or np.zeros((0, 4), np.int64),
                           columns=["frame", "row0", "col0", "n"]).astype(np.int64)
    which = np.concatenate(member_rows) if member_rows else np.zeros(0, np.int64)
    members = pd.DataFrame({
        "patch": np.concatenate(member_patch) if member_patch else np.zeros(0, np.int64),
        "x_px": x_px[which], "y_px": y_px[which], **{c: v[which] for c, v in carried.items()}})
    return patches, members


def members_of(members: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    """The member rows of patches ``start .. stop - 1``, with ``patch`` made relative."""
    lo, hi = np.searchsorted(members["patch"].to_numpy(), [start, stop])
    out = members.iloc[lo:hi].copy()
    out["patch"] -= start
    return out.reset_index(drop=True)


def plan_ranges(chunks: tuple[int, ...], frames: int | None = None) -> list[tuple[int, int]]:
    """Frame ranges of whole movie chunks holding about ``frames`` frames each.

    >>> plan_ranges((3, 3, 3, 1), frames=5)
    [(0, 6), (6, 10)]
    """
    frames = frames or PLAN_FRAMES
    bounds = np.concatenate([[0], np.cumsum(chunks)])
    out, start = [], 0
    for stop in bounds[1:]:
        if stop - start >= frames or stop == bounds[-1]:
            out.append((int(start), int(stop)))
            start = int(stop)
    return out


@dataclass
class Plan:
    """The kept candidates of a whole movie.

    Attributes
    ----------
    parts : list of dask.delayed.Delayed
        Persisted :func:`plan_block` results ``(patches, members)``, one per frame range.
    corners : pandas.DataFrame
        Every kept patch in order (``frame``, ``row0``, ``col0``, ``n``), on the driver.
    offsets : ndarray of int
        Global index of each part's first patch, and the total at the end.
    """

    parts: list
    corners: pd.DataFrame
    offsets: np.ndarray

    @property
    def n(self) -> int:
        return int(self.offsets[-1])


def plan_movie(movie, table, runner, *, pixel_size_nm: float, size: int, per_frame: int,
               min_emitters: int, seed: int, extra: tuple[str, ...] = ()) -> Plan:
    """Run :func:`plan_block` over ``movie``'s frames, one task per :func:`plan_ranges` range.

    The results stay where they were computed (persisted); only the corners (24 bytes
    per patch) come to the driver. ``table`` is a
    :class:`~smlmscale.patches.frames.FrameTable`; ``runner`` a
    :class:`~smlmscale.patches.base.Runner`.
    """
    import operator

    import dask

    _, height, width = movie.shape
    columns = ["frame", "x_nm", "y_nm", *extra]
    parts = runner.persist([
        dask.delayed(plan_block, pure=True)(
            table.rows(t0, t1, columns), t0=t0, t1=t1, height=height, width=width,
            pixel_size_nm=pixel_size_nm, size=size, per_frame=per_frame,
            min_emitters=min_emitters, seed=seed, extra=tuple(extra))
        for t0, t1 in plan_ranges(movie.chunks[0])])
    corners = runner.compute(*[dask.delayed(operator.getitem)(p, 0) for p in parts])
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in corners])]).astype(np.int64)
    everything = (pd.concat(corners, ignore_index=True) if corners
                  else pd.DataFrame(columns=["frame", "row0", "col0", "n"]))
    return Plan(parts=parts, corners=everything, offsets=offsets)


__all__ = ["PLAN_FRAMES", "Plan", "frame_corners", "members_of", "plan_block", "plan_movie",
           "plan_ranges"]
