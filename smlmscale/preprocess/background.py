"""``background``: subtract a per-pixel temporal background estimate.

Modes (``background:min`` is ``background:mode=min``):

``min``
    The per-pixel minimum over the whole movie (seed 004:
    ``movie - movie.min(axis=0)``), a lazy dask reduction broadcast back.
``median``, ``percentile``
    A rolling temporal median or ``q``-th percentile over ``window`` frames
    centred on each frame, ``map_overlap`` along t with a halo of
    ``window // 2`` frames. At the movie's ends the window is clipped to the
    frames that exist: frame ``i`` of ``T`` uses frames
    ``max(0, i - h) .. min(T - 1, i + h)`` with ``h = window // 2``, so the
    result equals the eager reference
    ``x[i] - np.percentile(x[max(0, i - h):i + h + 1], q, axis=0)`` for every
    chunking. Percentiles use linear interpolation (NumPy's default). Cost:
    a selection over ``window`` values per pixel and frame, about 0.1 s per
    256 x 256 frame per core at ``window=101`` (``min`` is far cheaper).

The whole-movie minimum is computed from a clone of the input graph
(:func:`dask.graph_manipulation.clone`): the input is read twice, once for the
statistic and once for the result, instead of being held in memory until the
statistic is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlmscale.errors import InputError
from smlmscale.preprocess.base import Backend, Step, StepParams
from smlmscale.settings import setting

MODES = ("min", "median", "percentile")


@dataclass(frozen=True)
class BackgroundParams(StepParams):
    """Parameters of ``background``.

    Attributes
    ----------
    mode : {"min", "median", "percentile"}
        Whole-movie per-pixel minimum, or a rolling temporal median/percentile;
        the positional shorthand. Default ``"min"``.
    window : int
        Rolling window in frames (odd, >= 1; ``median``/``percentile`` only).
        Default 101.
    q : float
        Percentile in [0, 100] for ``mode="percentile"``. Default 20.
    """

    settings_prefix = "background: "

    mode: str = setting("min", choices=MODES,
                        help="Temporal minimum, or rolling median/percentile")
    window: int = setting(101, min=1, unit="frames",
                          message="{flag} must be an odd number of frames >= 1, got {value}",
                          help="Rolling window, odd (median/percentile only)")
    q: float = setting(20.0, min=0, max=100, help="Percentile (mode=percentile)")

    def validate(self) -> None:
        if self.window % 2 == 0:
            raise InputError(f"background: window must be an odd number of frames >= 1, "
                             f"got {self.window}")


def rolling_background(block, *, half: int, q: float, left: int, right: int,
                       backend: Backend = Backend()):
    """Kernel: subtract the rolling temporal percentile from the core frames of a block.

    Parameters
    ----------
    block : numpy.ndarray or cupy.ndarray
        ``(t, y, x)`` floating point: ``left`` halo frames, the core frames,
        ``right`` halo frames. Where a side has no halo (``0``), the block's
        edge is the movie's edge and the window is clipped there.
    half : int
        Half window ``h``: frame ``i`` uses frames ``i - h .. i + h``.
    q : float
        Percentile in [0, 100]; 50 uses the (faster) median.
    left, right : int
        Halo frames on each side of the core.
    backend : Backend

    Returns
    -------
    array
        The core frames minus their background, ``(t_core, y, x)``.

    Examples
    --------
    >>> x = np.arange(5, dtype=np.float32)[:, None, None] ** 2
    >>> rolling_background(x, half=1, q=50, left=0, right=0)[:, 0, 0]
    array([-0.5,  0. ,  0. ,  0. ,  3.5], dtype=float32)
    """
    xp = backend.xp
    n = block.shape[0] - left - right
    out = xp.empty((n, *block.shape[1:]), dtype=block.dtype)
    # Time last and contiguous: each window is a run of memory per pixel (1.7x faster).
    series = xp.ascontiguousarray(xp.moveaxis(block, 0, -1))
    for j in range(n):
        c = left + j
        window = series[..., max(0, c - half):min(block.shape[0], c + half + 1)]
        if q == 50:
            level = xp.median(window, axis=-1)
        else:
            level = xp.percentile(window, q, axis=-1)
        out[j] = block[c] - level.astype(block.dtype)
    return out


def _rolling_block(block, *, half: int, q: float, halo: int, backend: Backend,
                   block_info=None):
    """:func:`rolling_background` of one ``map_overlap`` block, halo included (Dask trims it).

    With ``boundary="none"`` the first and last blocks have no outer halo.
    """
    index = block_info[0]["chunk-location"][0]
    count = block_info[0]["num-chunks"][0]
    left = halo if index > 0 else 0
    right = halo if index < count - 1 else 0
    out = backend.xp.empty_like(block)
    out[left:block.shape[0] - right] = rolling_background(block, half=half, q=q, left=left,
                                                          right=right, backend=backend)
    return out


def subtract_level(block, level):
    """Kernel: ``block - level`` (``level`` broadcasts, e.g. ``(1, y, x)``), in block's dtype."""
    return block - level.astype(block.dtype)


def build(movie, params: BackgroundParams, backend: Backend):
    """Lazy ``background`` of a ``(t, y, x)`` dask array; chunks kept."""
    from dask.graph_manipulation import clone

    dtype = np.promote_types(movie.dtype, np.float32)
    meta = backend.xp.empty((0,) * movie.ndim, dtype=dtype)
    movie = movie.astype(dtype)
    if params.mode == "min":
        level = clone(movie).min(axis=0, keepdims=True)
        return movie.map_blocks(subtract_level, level, dtype=dtype, meta=meta)
    q = 50.0 if params.mode == "median" else float(params.q)
    half = params.window // 2
    kwargs = dict(half=half, q=q, backend=backend, dtype=dtype, meta=meta)
    if half == 0:
        return movie.map_blocks(rolling_background, left=0, right=0, **kwargs)
    if movie.numblocks[0] == 1 or half >= movie.shape[0] - 1:
        # Every window lies in one chunk holding all frames: no halo needed.
        result = movie.rechunk({0: -1}).map_blocks(rolling_background, left=0, right=0,
                                                   **kwargs)
    else:
        result = movie.map_overlap(_rolling_block, depth={0: half, 1: 0, 2: 0},
                                   boundary="none", halo=half, **kwargs)
    if result.chunks != movie.chunks:  # one chunk along t, or dask merged short chunks
        result = result.rechunk(movie.chunks)
    return result


STEP = Step(name="background", params=BackgroundParams, build=build, positional="mode",
            summary="subtract the per-pixel temporal minimum, or a rolling median/percentile")
