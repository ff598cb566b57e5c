"""``sum``: sum bins of N consecutive frames into one high-density frame (seed 002).

Output frame ``k`` is ``x[k*N] + ... + x[k*N + N - 1] - (N - 1) * offset``:
each input frame carries the camera offset once, and the summed frame should
carry it once too, so it is subtracted ``N - 1`` times. A trailing bin of
fewer than ``N`` frames is dropped (``T // N`` output frames), never padded.

The movie is rechunked along t so that every chunk holds whole bins (about as
many input frames per chunk as before, rounded to a multiple of ``N``), then
each chunk is reduced on its own: no bin straddles two chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlmscale.errors import InputError
from smlmscale.preprocess.base import Backend, Step, StepParams
from smlmscale.settings import setting


@dataclass(frozen=True)
class SumParams(StepParams):
    """Parameters of ``sum`` (``sum:10`` is ``sum:frames=10``).

    Attributes
    ----------
    frames : int
        Frames per bin ``N`` (>= 1); the positional shorthand. Default 10.
    offset : float
        Camera offset in image units (ADU), subtracted ``N - 1`` times from
        every summed frame; 0 when the offset is already removed. Default 0.
    """

    settings_prefix = "sum: "

    frames: int = setting(10, min=1, unit="frames",
                          message="{flag} must be a whole number of frames >= 1, got {value}",
                          help="Frames per bin")
    offset: float = setting(0.0, unit="ADU", help="Camera offset, subtracted N - 1 times")


def sum_bins(block, *, frames: int, offset: float):
    """Kernel: sum every ``frames`` consecutive frames of a ``(t, y, x)`` block.

    Parameters
    ----------
    block : numpy.ndarray or cupy.ndarray
        ``(t, y, x)`` floating point, ``t`` a multiple of ``frames``.
    frames : int
        Frames per bin ``N``.
    offset : float
        Subtracted ``N - 1`` times from each sum.

    Returns
    -------
    array
        ``(t // N, y, x)``, same dtype.

    Examples
    --------
    >>> x = np.full((4, 1, 1), 105.0, dtype=np.float32)
    >>> sum_bins(x, frames=2, offset=100)[:, 0, 0]
    array([110., 110.], dtype=float32)
    """
    t, height, width = block.shape
    total = block.reshape(t // frames, frames, height, width).sum(axis=1)
    if offset:
        total -= block.dtype.type((frames - 1) * offset)
    return total.astype(block.dtype)


def bin_chunks(chunks: tuple[int, ...], frames: int) -> tuple[int, ...]:
    """Chunks along t of whole bins, near the old chunk size, covering ``sum(chunks)``.

    The frames after the last whole bin are dropped before rechunking, so the
    result covers ``(sum(chunks) // frames) * frames`` frames.

    Examples
    --------
    >>> bin_chunks((16, 16, 16, 5), 10)
    (20, 20, 10)
    """
    usable = (sum(chunks) // frames) * frames
    size = max(1, round(max(chunks) / frames)) * frames
    out = [size] * (usable // size)
    if usable % size:
        out.append(usable % size)
    return tuple(out)


def build(movie, params: SumParams, backend: Backend):
    """Lazy ``sum`` of a ``(t, y, x)`` dask array: ``t // frames`` frames.

    Raises
    ------
    InputError
        The movie has fewer frames than one bin.
    """
    n = params.frames
    if movie.shape[0] < n:
        raise InputError(f"sum: the movie has {movie.shape[0]} frames, fewer than one bin "
                         f"of {n}", hint="use a smaller frames=...")
    dtype = np.promote_types(movie.dtype, np.float32)
    usable = (movie.shape[0] // n) * n
    movie = movie[:usable].astype(dtype).rechunk({0: bin_chunks(movie.chunks[0], n)})
    return movie.map_blocks(sum_bins, frames=n, offset=float(params.offset), dtype=dtype,
                            chunks=(tuple(c // n for c in movie.chunks[0]), *movie.chunks[1:]),
                            meta=backend.xp.empty((0,) * movie.ndim, dtype=dtype))


STEP = Step(name="sum", params=SumParams, build=build, positional="frames",
            summary="sum bins of N frames, the camera offset subtracted N - 1 times")
