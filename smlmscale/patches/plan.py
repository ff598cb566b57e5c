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

import numpy as np
import pandas as pd


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


__all__ = ["frame_corners", "members_of", "plan_block"]
