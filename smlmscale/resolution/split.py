"""Kernels: which half of an FRC split each localization falls in, and the halves' images.

``random``: a localization's half is one bit of a hash (SplitMix64) of its ``x_nm``,
``y_nm`` and ``frame`` with the seed, so it does not depend on how the table is
partitioned or ordered, and a seed gives the same split every run (identical rows share a
half). ``frames``: blocks of ``block_frames`` consecutive frames alternate between the
halves (frame ``f`` in half ``(f // block_frames) % 2``).

Localizations of one emitter in consecutive frames (blinking, a molecule on for several
frames) are correlated: a random split puts them in both halves and the FRC then
overestimates the resolution (it sees the same molecule twice, a finer curve than the
structure supports). A frame-block split keeps most such repeats in one half; better
still, measure a table whose consecutive-frame localizations were linked into one per
emitter. NumPy in, NumPy out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlmscale.render.draw import Drawing

SPLITS = ("random", "frames")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    # SplitMix64's finalizer (Steele et al. 2014); uint64 arithmetic wraps
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def random_half(x_nm: np.ndarray, y_nm: np.ndarray, frame: np.ndarray | None, *,
                seed: int) -> np.ndarray:
    """0 or 1 per localization, from a hash of its position, frame and ``seed``.

    >>> random_half(np.array([1.0, 2.0]), np.array([3.0, 4.0]), None, seed=0).dtype
    dtype('int8')
    """
    x = np.ascontiguousarray(x_nm, np.float64).view(np.uint64)
    y = np.ascontiguousarray(y_nm, np.float64).view(np.uint64)
    h = _mix(np.full(x.shape, np.uint64(seed % 2**64)) + _GOLDEN)
    for column in (x, y) + (() if frame is None else
                            (np.ascontiguousarray(frame, np.int64).view(np.uint64),)):
        h = _mix(h ^ (column + _GOLDEN))
    return (h >> np.uint64(63)).astype(np.int8)


def frame_half(frame: np.ndarray, *, block_frames: int) -> np.ndarray:
    """0 or 1 per localization: alternating blocks of ``block_frames`` frames.

    >>> frame_half(np.array([0, 9, 10, 25]), block_frames=10)
    array([0, 0, 1, 0], dtype=int8)
    """
    return ((np.asarray(frame, np.int64) // block_frames) % 2).astype(np.int8)


@dataclass(frozen=True)
class Halves:
    """Draws a partition as the ``(2, H, W)`` histograms of its two halves.

    Attributes
    ----------
    field : smlmscale.render.draw.Drawing
        The field's histogram (shape, pixel size, origin).
    split : {"random", "frames"}
    seed : int
        Of the random split.
    block_frames : int
        Frames per block of the frame split.
    """

    field: Drawing
    split: str = "random"
    seed: int = 0
    block_frames: int = 500

    def half(self, part: pd.DataFrame) -> np.ndarray:
        """The half (0 or 1) of each row of ``part``."""
        frame = part["frame"].to_numpy()
        if self.split == "frames":
            return frame_half(frame, block_frames=self.block_frames)
        return random_half(part["x_nm"].to_numpy(), part["y_nm"].to_numpy(), frame,
                           seed=self.seed)

    def __call__(self, part: pd.DataFrame) -> np.ndarray:
        half = self.half(part)
        return np.stack([self.field.density(part[half == h]) for h in (0, 1)])


__all__ = ["Halves", "SPLITS", "frame_half", "random_half"]
