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

A model that upsamples inside (deepstorm3d: camera pixels in, ``internal`` = 4 voxels
per pixel out) gets windows repeated ``factor / internal`` times only (not at all when
``factor == internal``); the grid, the halo and the stitching stay in output pixels.
:func:`predicted_windows` hands out each window's prediction for kernels that use it
without stitching (deepstorm3d localizes window by window: a whole frame's voxel grid
can be gigabytes).

Windows of equal shape are batched together (interior, edges, corners: at most nine
shapes). NumPy in, NumPy out; the model is any callable mapping ``(B, h, w, C)`` float32
to ``(B, h, w, C')``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
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
    internal : int
        Output pixels per model-input pixel (the model's own upsampling, dividing
        ``factor``): windows are repeated ``factor // internal`` times before the model.
    """

    frame_shape: tuple[int, int]
    factor: int
    tile: int
    halo: int
    step: int
    internal: int = 1

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
              tile: int, internal: int = 1) -> TileGrid:
    """A tiling whose halo covers ``radius`` and whose edges respect ``align`` and ``factor``.

    Parameters
    ----------
    frame_shape : tuple of int
        ``(H, W)`` camera pixels.
    factor : int
        Upsampling factor (1: none).
    align : int
        The model's total downsampling (input sizes must be multiples of it), output
        (upsampled) pixels.
    radius : int
        The model's receptive radius (and what a kernel reads beyond it), upsampled pixels.
    tile : int
        Wanted core side, upsampled pixels (rounded up to the step).
    internal : int, optional
        The model's own upsampling (a divisor of ``factor``).

    Raises
    ------
    ValueError
        When ``internal`` does not divide ``factor``.
    """
    if int(factor) % int(internal):
        raise ValueError(f"the model upsamples {internal} times, which does not divide the "
                         f"upsampling factor {factor}")
    step = math.lcm(int(align), int(factor))
    return TileGrid(frame_shape=(int(frame_shape[0]), int(frame_shape[1])), factor=int(factor),
                    tile=max(step, _ceil_to(int(tile), step)),
                    halo=_ceil_to(max(int(radius), 0), step), step=step,
                    internal=int(internal))


def cut_window(frame: np.ndarray, grid: TileGrid, win_y: slice, win_x: slice) -> np.ndarray:
    """The model-input window of a normalized camera frame ``(H, W, ...)`` (trailing
    channel axes are kept), zeros beyond its edge: ``(h, w, ...)`` output pixels
    ``win_y, win_x`` divided by the model's own upsampling."""
    f = grid.factor
    y0, y1, x0, x1 = win_y.start // f, win_y.stop // f, win_x.start // f, win_x.stop // f
    part = frame[y0:y1, x0:x1]
    if part.shape[:2] != (y1 - y0, x1 - x0):
        pad = ((0, y1 - y0 - part.shape[0]), (0, x1 - x0 - part.shape[1]))
        part = np.pad(part, pad + ((0, 0),) * (part.ndim - 2))
    repeat = f // grid.internal
    if repeat > 1:
        part = np.repeat(np.repeat(part, repeat, axis=0), repeat, axis=1)
    return part


def predicted_windows(frames: np.ndarray, predict: Callable[[np.ndarray], np.ndarray],
                      grid: TileGrid, *, batch_size: int = 8) -> Iterator[tuple]:
    """Each window of each frame with its prediction, windows of one shape batched.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(N, H, W)`` or ``(N, H, W, C)`` float32 normalized camera frames.
    predict : callable
        ``(B, h, w, C)`` float32 -> ``(B, h', w', C')``, ``h' = internal h``.
    grid : TileGrid
    batch_size : int, optional
        Windows per call of ``predict``.

    Yields
    ------
    tuple
        ``(frame index, core_y, core_x, win_y, win_x, output)``: the slices in output
        pixels of the padded frame and the window's ``(h', w', C')`` float32 output.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim == 3:
        frames = frames[..., None]
    groups: dict[tuple[int, int], list] = {}
    for spans in grid.windows():
        core_y, core_x, win_y, win_x = spans
        shape = (win_y.stop - win_y.start, win_x.stop - win_x.start)
        groups.setdefault(shape, []).append(spans)
    for spans in groups.values():
        jobs = [(i, span) for i in range(frames.shape[0]) for span in spans]
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start:start + batch_size]
            batch = np.stack([cut_window(frames[i], grid, span[2], span[3])
                              for i, span in chunk])
            result = np.asarray(predict(batch), dtype=np.float32)
            for (i, span), tile in zip(chunk, result):
                yield (i, *span, tile)


def core_of(tile: np.ndarray, core_y: slice, core_x: slice, win_y: slice,
            win_x: slice) -> np.ndarray:
    """The core's part of a window's output (slices as :func:`predicted_windows` gives)."""
    return tile[core_y.start - win_y.start:core_y.stop - win_y.start,
                core_x.start - win_x.start:core_x.stop - win_x.start]


def predict_frames(frames: np.ndarray, predict: Callable[[np.ndarray], np.ndarray],
                   grid: TileGrid, *, batch_size: int = 8, channels: int = 1) -> np.ndarray:
    """Tiled prediction of normalized frames, stitched and cropped to the upsampled frame.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(N, H, W)`` or ``(N, H, W, C)`` float32 normalized camera frames.
    predict : callable
        ``(B, h, w, C)`` float32 -> ``(B, h', w', C')`` (``h' = internal h``).
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
    n = len(frames)
    ph, pw = grid.padded
    out = np.zeros((n, ph, pw, channels), dtype=np.float32)
    for i, core_y, core_x, win_y, win_x, tile in predicted_windows(frames, predict, grid,
                                                                    batch_size=batch_size):
        out[i, core_y, core_x] = core_of(tile, core_y, core_x, win_y, win_x)
    h, w = (s * grid.factor for s in np.shape(frames)[1:3])
    return out[:, :h, :w]


__all__ = ["TileGrid", "core_of", "cut_window", "make_grid", "predict_frames",
           "predicted_windows"]
