"""Kernel: the temporal context of a block of frames (locnet's K-frame input stacks).

locnet reads ``K`` (``context``) consecutive frames centred on the frame it predicts:
frames ``t - K//2 .. t + K//2``, where a frame before the movie's first or after its last
repeats the nearest existing one, the same rule the ``frames`` patch generator uses for
its training inputs (:func:`smlmscale.patches.stacks.window_frames`). A block predicting
frames ``[start, stop)`` therefore reads frames :func:`context_range` ``= [start - K//2,
stop + K//2)`` clipped to the movie (``K//2`` frames of temporal halo on each side,
fewer at the movie's ends), and :func:`context_stacks` turns them into the
``(stop - start, H, W, K)`` stacks. Blocks can then be cut anywhere: a frame's stack
never depends on the block it falls in. NumPy in, NumPy out.
"""

from __future__ import annotations

import numpy as np

from smlmscale.errors import InputError
from smlmscale.patches.stacks import window_frames


def _check(start: int, stop: int, n_frames: int, context: int) -> None:
    if context < 1 or context % 2 == 0:
        raise ValueError(f"context must be a positive odd number of frames, got {context}")
    if not 0 <= start < stop <= n_frames:
        raise ValueError(f"frames [{start}, {stop}) are not a block of a movie of "
                         f"{n_frames} frames")


def check_context(context: int, *, n_frames: int) -> None:
    """Refuse a temporal context the movie cannot give (more frames than it has).

    Raises
    ------
    smlmscale.errors.InputError
        ``param="context"``, when ``context`` exceeds ``n_frames``.
    """
    if int(context) > int(n_frames):
        raise InputError(f"the model reads {context} consecutive frames, but the movie has "
                         f"only {n_frames}", param="context",
                         hint="predict a longer movie, or use a model trained with a "
                              "smaller --context")


def context_range(start: int, stop: int, *, n_frames: int, context: int) -> tuple[int, int]:
    """Frames ``[first, last)`` a block predicting frames ``[start, stop)`` must read.

    Parameters
    ----------
    start, stop : int
        The block's frames, ``0 <= start < stop <= n_frames``.
    n_frames : int
        Frames of the movie.
    context : int
        ``K``, frames per input stack (odd).

    Returns
    -------
    tuple of int
        ``(max(0, start - K//2), min(n_frames, stop + K//2))``.

    Examples
    --------
    >>> context_range(0, 4, n_frames=10, context=3), context_range(4, 10, n_frames=10, context=3)
    ((0, 5), (3, 10))
    """
    _check(start, stop, n_frames, context)
    half = context // 2
    return max(0, start - half), min(n_frames, stop + half)


def context_stacks(frames: np.ndarray, *, first: int, stop: int, n_frames: int,
                   context: int) -> np.ndarray:
    """The ``K``-frame input stacks of the frames ``[first, stop)`` of a movie.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(m, H, W)``: the movie's frames :func:`context_range` ``(first, stop)``, in order;
        or ``(m, H, W, F)``: F feature maps of each of these frames.
    first, stop : int
        The frames predicted, ``0 <= first < stop <= n_frames``.
    n_frames : int
        Frames of the movie.
    context : int
        ``K``, frames per stack (odd).

    Returns
    -------
    numpy.ndarray
        ``(stop - first, H, W, K)``, the dtype of ``frames``: stack ``s`` holds frames
        ``first + s - K//2 .. first + s + K//2`` (clipped to the movie: its first and
        last frame repeat) along the last axis. For feature maps, ``(stop - first, H, W,
        K * F)``: the K frames' F maps one after the other (frame-major), as locnet's
        context half reads them (:func:`smlmscale.models.locnet_layout.split_locnet`).

    Raises
    ------
    ValueError
        For a bad block or context, or ``frames`` of the wrong length.

    Examples
    --------
    >>> movie = np.arange(4.0).reshape(4, 1, 1)
    >>> context_stacks(movie[0:3], first=0, stop=2, n_frames=4, context=3)[:, 0, 0].tolist()
    [[0.0, 0.0, 1.0], [0.0, 1.0, 2.0]]
    """
    lo, hi = context_range(first, stop, n_frames=n_frames, context=context)
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4) or len(frames) != hi - lo:
        raise ValueError(f"frames [{first}, {stop}) with a context of {context} need the "
                         f"{hi - lo} frames [{lo}, {hi}) as (m, H, W), got {frames.shape}")
    wanted = window_frames(np.arange(first, stop), size=context, n_frames=n_frames) - lo
    if frames.ndim == 4:
        return np.concatenate([frames[wanted[:, k]] for k in range(context)], axis=-1)
    stacks = np.empty((stop - first, *frames.shape[1:], context), dtype=frames.dtype)
    for k in range(context):
        stacks[..., k] = frames[wanted[:, k]]
    return stacks


__all__ = ["check_context", "context_range", "context_stacks"]
