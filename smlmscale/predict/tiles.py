"""Kernel: cut frames into overlapping tiles, predict them, stitch the cores.

Frames are predicted on the upsampled grid (``factor`` output pixels per camera pixel).
The reference is whole-frame prediction of the frame padded with zeros at its bottom and
right to a multiple of ``align`` (the model's total downsampling), cropped back. Tiles
reproduce it exactly:

- tile cores partition the padded frame in steps of ``tile`` upsampled pixels;
- each core is predicted inside a window reaching ``halo`` further on every side (at
  least the model's receptive radius), clipped to the padded frame, so a window touching
  the frame's edge sees the same zero padding the whole frame does;
- window edges are multiples of ``align`` (the pooling grid is the whole frame's) and of
  ``factor`` (a window is cut from camera pixels and upsampled by repetition, so the
  upsampled frame never exists whole).

Windows of equal shape are batched together (interior, edges, corners: at most nine
shapes). NumPy in, NumPy out; the model is any callable mapping ``(B, h, w, C)`` float32
to ``(B, h, w, C')``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TileGrid:
    """Tiling of ``(H, W)`` camera-pixel frames upsampled by ``factor``.

    Attributes
    ----------
    frame_shape : tuple of int
        ``(H, W)``, camera pixels.
    factor : int
        Upsampling factor.
    tile : int
        Core side, upsampled pixels (a multiple of ``step``).
    halo : int
        Margin predicted around a core and trimmed, upsampled pixels (a multiple of
        ``step``).
    step : int
        ``lcm(align, factor)``: window edges are multiples of it.
    """

    frame_shape: tuple[int, int]
    factor: int
    tile: int
    halo: int
    step: int

    @property
    def padded(self) -> tuple[int, int]:
        """The upsampled frame padded to a multiple of ``step``."""
        return tuple(_ceil_to(n * self.factor, self.step) for n in self.frame_shape)

    def windows(self) -> list[tuple[slice, slice, slice, slice]]:
        """``(core_y, core_x, window_y, window_x)`` slices, upsampled pixels, raster order."""
        out = []
        spans = [_spans(n, self.tile, self.halo) for n in self.padded]
        for core_y, win_y in spans[0]:
            for core_x, win_x in spans[1]:
                out.append((core_y, core_x, win_y, win_x))
        return out


def _ceil_to(n: int, step: int) -> int:
    return -(-n // step) * step


def _spans(size: int, tile: int, halo: int) -> list[tuple[slice, slice]]:
    out = []
    for start in range(0, size, tile):
        stop = min(start + tile, size)
        out.append((slice(start, stop), slice(max(0, start - halo), min(size, stop + halo))))
    return out


def make_grid(frame_shape: tuple[int, int], *, factor: int, align: int, radius: int,
              tile: int) -> TileGrid:
    """A tiling whose halo covers ``radius`` and whose edges respect ``align`` and ``factor``.

    Parameters
    ----------
    frame_shape : tuple of int
        ``(H, W)`` camera pixels.
    factor : int
        Upsampling factor (1: none).
    align : int
        The model's total downsampling (input sizes must be multiples of it).
    radius : int
        The model's receptive radius, upsampled pixels.
    tile : int
        Wanted core side, upsampled pixels (rounded up to the step).
    """
    step = math.lcm(int(align), int(factor))
    return TileGrid(frame_shape=(int(frame_shape[0]), int(frame_shape[1])), factor=int(factor),
                    tile=max(step, _ceil_to(int(tile), step)),
                    halo=_ceil_to(max(int(radius), 0), step), step=step)


def cut_window(frame: np.ndarray, grid: TileGrid, win_y: slice, win_x: slice) -> np.ndarray:
    """The upsampled window ``(h, w, ...)`` of a normalized camera frame ``(H, W, ...)``
    (trailing channel axes are kept), zeros beyond its edge."""
    f = grid.factor
    y0, y1, x0, x1 = win_y.start // f, win_y.stop // f, win_x.start // f, win_x.stop // f
    part = frame[y0:y1, x0:x1]
    if part.shape[:2] != (y1 - y0, x1 - x0):
        pad = ((0, y1 - y0 - part.shape[0]), (0, x1 - x0 - part.shape[1]))
        part = np.pad(part, pad + ((0, 0),) * (part.ndim - 2))
    if f > 1:
        part = np.repeat(np.repeat(part, f, axis=0), f, axis=1)
    return part


def predict_frames(frames: np.ndarray, predict: Callable[[np.ndarray], np.ndarray],
                   grid: TileGrid, *, batch_size: int = 8, channels: int = 1) -> np.ndarray:
    """Tiled prediction of normalized frames, stitched and cropped to the upsampled frame.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(N, H, W)`` or ``(N, H, W, C)`` float32 normalized camera frames.
    predict : callable
        ``(B, h, w, C)`` float32 -> ``(B, h, w, C')``.
    grid : TileGrid
    batch_size : int, optional
        Windows per call of ``predict``.
    channels : int, optional
        ``C'``, the model's output channels.

    Returns
    -------
    numpy.ndarray
        ``(N, H * factor, W * factor, C')`` float32.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim == 3:
        frames = frames[..., None]
    n = frames.shape[0]
    ph, pw = grid.padded
    out = np.zeros((n, ph, pw, channels), dtype=np.float32)
    groups: dict[tuple[int, int], list] = {}
    for index, (core_y, core_x, win_y, win_x) in enumerate(grid.windows()):
        shape = (win_y.stop - win_y.start, win_x.stop - win_x.start)
        groups.setdefault(shape, []).append((core_y, core_x, win_y, win_x))
    for shape, spans in groups.items():
        jobs = [(i, span) for i in range(n) for span in spans]
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start:start + batch_size]
            batch = np.stack([cut_window(frames[i], grid, span[2], span[3])
                              for i, span in chunk])
            result = np.asarray(predict(batch), dtype=np.float32)
            for (i, (core_y, core_x, win_y, win_x)), tile in zip(chunk, result):
                out[i, core_y, core_x] = tile[core_y.start - win_y.start:
                                              core_y.stop - win_y.start,
                                              core_x.start - win_x.start:
                                              core_x.stop - win_x.start]
    h, w = (s * grid.factor for s in frames.shape[1:3])
    return out[:, :h, :w]


__all__ = ["TileGrid", "cut_window", "make_grid", "predict_frames"]
