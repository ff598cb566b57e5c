"""``frames`` target maps and pairs (NumPy in, NumPy out).

The targets of a patch at corner ``(row0, col0)`` (camera px) come from the emitters of
its centre frame ``t`` inside it, ``x_px = x_nm / pixel_size_nm`` from the pixel corner.
An emitter lies in pixel ``(i, j) = (floor(y_px) - row0, floor(x_px) - col0)``; the maps
``(H, W, C)`` float32 are, channel by channel (:func:`~smlmscale.patches.stacks.target_channels`):

- ``occupancy``: 1 in a pixel holding an emitter, else 0;
- ``photons`` (the table's column), ``dx_px = x_px - (floor(x_px) + 0.5)`` and
  ``dy_px`` likewise, in ``[-0.5, 0.5)``, and in 3D ``z_nm``: where occupied, 0
  elsewhere;
- ``background`` at every pixel: the simulator's expected background photons per pixel
  of frame ``t`` (a smlmscale simulation, ``background_units = "photons/px"``), or an
  estimate in normalized input units (``"input"``): per pixel, the
  :data:`BACKGROUND_PERCENTILE` th percentile over the ``background_frames`` normalized
  frames centred on ``t`` (edge frames repeated), which the emitters that blink in a few
  of those frames do not move much.

**Two emitters in one pixel.** The brighter keeps the pixel (the first in table order
when equal); the other moves to the free neighbour pixel on its side of the pixel centre
nearest to it (left/right, up/down, then the diagonal, in that order of distance), its
offsets then taken from that pixel's centre, so ``|dx|, |dy| <= 1`` and its position
``pixel + 0.5 + offset`` is unchanged (:func:`placed_emitters`). Only an emitter whose
three such neighbours are held too (or lie beyond the patch) is dropped and counted as a
collision. The count loss gathers its true emitters from the occupied pixels, so before
this rule the dimmer of every pair within one pixel (1 emitter in 12 at 8 per um^2 on
100 nm pixels) was taught as absent, and the network learned to merge such pairs;
DECODE's loss reads the full emitter list. The network's offset heads reach +-1 px.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smlmscale.patches.deepstorm import cut_patches
from smlmscale.patches.stacks import FramesSettings, cut_windows, normalize_adu

#: Percentile over time of the background estimate (the lower quartile).
BACKGROUND_PERCENTILE = 25.0


def emitter_pixels(members: pd.DataFrame, corners: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each member's ``patch``, pixel ``row``, ``col`` in its patch and offsets ``dx``, ``dy``.

    ``members`` has ``patch`` (index into ``corners``), ``x_px``, ``y_px``; ``corners``
    has ``row0``, ``col0``. Offsets are px from the pixel centre, float64.
    """
    which = members["patch"].to_numpy(np.int64)
    x = members["x_px"].to_numpy(np.float64)
    y = members["y_px"].to_numpy(np.float64)
    jx, iy = np.floor(x), np.floor(y)
    return {"patch": which,
            "row": iy.astype(np.int64) - corners["row0"].to_numpy(np.int64)[which],
            "col": jx.astype(np.int64) - corners["col0"].to_numpy(np.int64)[which],
            "dx": x - (jx + 0.5), "dy": y - (iy + 0.5)}


def kept_emitters(patch: np.ndarray, row: np.ndarray, col: np.ndarray,
                  photons: np.ndarray) -> np.ndarray:
    """A mask of the emitters kept: the brightest of each ``(patch, row, col)`` pixel.

    >>> kept_emitters(np.zeros(3, int), np.zeros(3, int), np.array([0, 0, 1]),
    ...               np.array([5.0, 9.0, 1.0])).tolist()
    [False, True, True]
    """
    order = np.lexsort((np.arange(len(patch)), -np.asarray(photons, np.float64), col, row,
                        patch))
    keys = np.stack([patch, row, col])[:, order]
    first = np.ones(len(order), bool)
    first[1:] = np.any(keys[:, 1:] != keys[:, :-1], axis=0)
    keep = np.zeros(len(patch), bool)
    keep[order[first]] = True
    return keep


def placed_emitters(px: dict[str, np.ndarray], photons: np.ndarray, *, n: int,
                    size_px: int) -> dict[str, np.ndarray]:
    """Each emitter's pixel and offsets in its patch's maps, and which are dropped.

    Parameters
    ----------
    px : dict
        :func:`emitter_pixels`: ``patch``, ``row``, ``col``, ``dx``, ``dy`` (px).
    photons : numpy.ndarray
        Photons of each emitter (the brighter of two keeps their pixel).
    n, size_px : int
        Patches and their side, px.

    Returns
    -------
    dict
        ``keep`` (bool: placed, not a collision) and the placed ``patch``, ``row``,
        ``col``, ``dx``, ``dy`` of every emitter (a moved one's from its new pixel; see
        the module's docstring). Emitters are moved brightest first.

    Examples
    --------
    >>> px = emitter_pixels(pd.DataFrame({"patch": [0, 0], "x_px": [2.1, 2.4],
    ...                                   "y_px": [3.5, 3.6]}),
    ...                     pd.DataFrame({"row0": [0], "col0": [0]}))
    >>> placed = placed_emitters(px, np.array([900.0, 500.0]), n=1, size_px=8)
    >>> placed["col"].tolist(), [round(float(v), 2) for v in placed["dx"]]
    ([2, 1], [-0.4, 0.9])
    """
    patch, row, col = px["patch"], px["row"].copy(), px["col"].copy()
    dx, dy = px["dx"].copy(), px["dy"].copy()
    keep = kept_emitters(patch, row, col, photons)
    moved = np.flatnonzero(~keep)
    if moved.size:
        held = np.zeros((n, size_px, size_px), bool)
        held[patch[keep], row[keep], col[keep]] = True
        order = moved[np.lexsort((moved, -np.asarray(photons, np.float64)[moved]))]
        for e in order:
            sx, sy = (1 if dx[e] >= 0 else -1), (1 if dy[e] >= 0 else -1)
            sides = [(0, sx), (sy, 0)]
            if (dx[e] - sx) ** 2 + dy[e] ** 2 > dx[e] ** 2 + (dy[e] - sy) ** 2:
                sides.reverse()
            for dr, dc in (*sides, (sy, sx)):
                r, c = row[e] + dr, col[e] + dc
                if 0 <= r < size_px and 0 <= c < size_px and not held[patch[e], r, c]:
                    held[patch[e], r, c] = keep[e] = True
                    row[e], col[e], dx[e], dy[e] = r, c, dx[e] - dc, dy[e] - dr
                    break
    return {"keep": keep, "patch": patch, "row": row, "col": col, "dx": dx, "dy": dy}


def target_maps(members: pd.DataFrame, corners: pd.DataFrame, *, n: int, size_px: int,
                is_3d: bool) -> tuple[np.ndarray, int]:
    """The emitter channels of ``n`` patches (all but ``background``) and the collisions.

    Parameters
    ----------
    members : pandas.DataFrame
        ``patch``, ``x_px``, ``y_px``, ``photons`` (and ``z_nm`` in 3D), one row per
        emitter of a patch's centre frame inside it.
    corners : pandas.DataFrame
        ``row0``, ``col0`` per patch.
    n, size_px : int
    is_3d : bool

    Returns
    -------
    maps : ndarray
        ``(n, size, size, 4)`` (5 in 3D) float32: occupancy, photons, dx_px, dy_px, [z_nm].
    collisions : int
        Emitters dropped because brighter ones hold their pixel and the neighbours it
        could move to (:func:`placed_emitters`).
    """
    photons = members["photons"].to_numpy(np.float64)
    px = placed_emitters(emitter_pixels(members, corners), photons, n=n, size_px=size_px)
    keep = px["keep"]
    values = [np.ones(len(photons)), photons, px["dx"], px["dy"]]
    if is_3d:
        values.append(members["z_nm"].to_numpy(np.float64))
    maps = np.zeros((n, size_px, size_px, len(values)), np.float32)
    at = (px["patch"][keep], px["row"][keep], px["col"][keep])
    maps[at] = np.stack([v[keep] for v in values], axis=-1)
    return maps, int((~keep).sum())


def occupancy_stats(part: tuple[pd.DataFrame, pd.DataFrame], *, max_emitters: int,
                    is_3d: bool, size_px: int | None = None) -> dict:
    """What the patch set records of a plan part ``(patches, members)``.

    ``size_px`` (the patch side, px) places the emitters as :func:`target_maps` does
    (:func:`placed_emitters`); without it an emitter whose pixel a brighter one holds is
    a collision (the deepstorm3d grid's rule).

    Returns
    -------
    dict
        ``collisions``; ``largest`` (most occupied pixels of a patch); ``over`` (patches
        with more than ``max_emitters``); ``photons_hi`` (the brightest kept emitter,
        photons; 0 when empty); ``z_lo_nm``, ``z_hi_nm`` (None in 2D or empty).
    """
    patches, members = part
    px = emitter_pixels(members, patches)
    photons = members["photons"].to_numpy(np.float64)
    if size_px is None:
        keep = kept_emitters(px["patch"], px["row"], px["col"], photons)
    else:
        px = placed_emitters(px, photons, n=len(patches), size_px=int(size_px))
        keep = px["keep"]
    counts = np.bincount(px["patch"][keep], minlength=len(patches))
    z = members["z_nm"].to_numpy(np.float64) if is_3d and len(members) else None
    photons = members["photons"].to_numpy(np.float64)[keep]
    return {"collisions": int((~keep).sum()), "largest": int(counts.max(initial=0)),
            "over": int((counts > max_emitters).sum()),
            "photons_hi": float(photons.max(initial=0.0)),
            "z_lo_nm": None if z is None else float(z.min()),
            "z_hi_nm": None if z is None else float(z.max())}


def estimate_background(windows: np.ndarray) -> np.ndarray:
    """Per pixel, the :data:`BACKGROUND_PERCENTILE` th percentile over the last axis."""
    return np.percentile(windows, BACKGROUND_PERCENTILE, axis=-1).astype(np.float32)


def stack_pairs(images: np.ndarray, index: np.ndarray, corners: pd.DataFrame,
                members: pd.DataFrame, *, n_frames: int, settings: FramesSettings,
                offset_adu: float, scale_adu: float, is_3d: bool,
                background: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The training pairs of the planned patches ``corners``.

    Parameters
    ----------
    images : ndarray
        ``(n, y, x)`` camera frames, ADU: the movie's frames ``index`` (sorted), all
        those within :meth:`FramesSettings.halo` of the patches' frames.
    index : ndarray of int
    corners : pandas.DataFrame
        ``frame``, ``row0``, ``col0`` per patch.
    members : pandas.DataFrame
        As :func:`target_maps`.
    n_frames : int
        Frames of the movie (stacks repeat its first and last frame).
    settings : FramesSettings
    offset_adu, scale_adu : float
        The normalization.
    is_3d : bool
    background : ndarray, optional
        ``(y, x)`` expected background photons per pixel of the whole frame (a
        simulation's); ``None`` estimates it from the images (input units).

    Returns
    -------
    inputs, targets : ndarray
        ``(k, H, W, K)`` and ``(k, H, W, C)`` float32.
    """
    k, size = len(corners), settings.patch_size_px
    frames = corners["frame"].to_numpy(np.int64)
    rows0, cols0 = corners["row0"].to_numpy(np.int64), corners["col0"].to_numpy(np.int64)
    cut = dict(size_px=size, n_frames=n_frames)
    inputs = normalize_adu(cut_windows(images, index, frames, rows0, cols0,
                                       window=settings.context, **cut), offset_adu, scale_adu)
    maps, _ = target_maps(members, corners, n=k, size_px=size, is_3d=is_3d)
    if background is not None:
        bg = cut_patches(np.asarray(background)[None], np.zeros(k, np.int64), rows0, cols0,
                         size).astype(np.float32)
    else:
        windows = cut_windows(images, index, frames, rows0, cols0,
                              window=settings.background_frames, **cut)
        bg = estimate_background(normalize_adu(windows, offset_adu, scale_adu))
    return inputs, np.concatenate([maps, bg[..., None]], axis=-1)


__all__ = ["BACKGROUND_PERCENTILE", "emitter_pixels", "estimate_background", "kept_emitters",
           "occupancy_stats", "placed_emitters", "stack_pairs", "target_maps"]
