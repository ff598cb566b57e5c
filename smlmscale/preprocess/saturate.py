"""``saturate``: soft saturation, a smooth monotonic compression of bright pixels.

Seed 000's STORM-tiff images are artificially saturated (bright cluster pixels
clipped, their gradients lost); its fix is a *soft* saturation that looks alike
but keeps the ordering of bright pixels. With a reference level ``L`` and a
knee ``k`` in [0, 1), in units of ``u = x / L``::

    f(u) = u                                      for u <= k
    f(u) = k + (1 - k) * tanh((u - k) / (1 - k))  for u >  k
    y = L * f(x / L)

* below ``k * L`` pixels are unchanged;
* ``f`` is continuous with a continuous first derivative at the knee
  (``tanh'(0) = 1``), strictly increasing, and ``f(u) < 1``: the output
  approaches ``L`` as ``x`` grows but never exceeds it (in floating point,
  pixels far above ``L`` round to ``L``), where clipping would flatten every
  pixel above ``L``;
* ``knee=0`` compresses everything (``L * tanh(x / L)`` for ``x > 0``).

``L`` is ``level`` when given (absolute, image units), else the ``percentile``
of each frame's pixels (``scope="frame"``, the default: each section or frame
its own reference, like the seed's per-image processing) or of the whole movie
(``scope="movie"``, only for ``percentile=100``: the movie's maximum, an exact
lazy reduction; other whole-movie percentiles are not exact in Dask, give
``level`` instead). Frames whose ``L <= 0`` are left unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlmscale.errors import InputError
from smlmscale.preprocess.base import Backend, Step, StepParams
from smlmscale.settings import setting

SCOPES = ("frame", "movie")


@dataclass(frozen=True)
class SaturateParams(StepParams):
    """Parameters of ``saturate`` (``saturate:0.7`` is ``saturate:knee=0.7``).

    Attributes
    ----------
    knee : float
        Fraction of the reference level below which pixels are unchanged, in
        [0, 1); the positional shorthand. Default 0.7.
    level : float, optional
        Absolute reference (ceiling) level in image units. Default: None, from
        ``percentile`` and ``scope``.
    percentile : float
        Percentile in (0, 100] of the pixel values giving the level when
        ``level`` is not given. Default 100 (the maximum).
    scope : {"frame", "movie"}
        Percentile of each frame's pixels, or of the whole movie (only with
        ``percentile=100``). Default ``"frame"``.
    """

    settings_prefix = "saturate: "

    knee: float = setting(0.7, min=0, max=1, max_open=True,
                          message="{flag} must be in [0, 1) (a fraction of the level), "
                                  "got {value}",
                          help="Fraction of the level below which pixels are unchanged")
    level: float | None = setting(None, min=0, min_open=True, unit="image units",
                                  message="{flag} must be > 0 (image units), got {value}",
                                  help="Absolute reference level", default_text="percentile")
    percentile: float = setting(100.0, min=0, min_open=True, max=100,
                                help="Percentile of the pixels giving the level")
    scope: str = setting("frame", choices=SCOPES, help="Percentile of each frame or the movie")

    def validate(self) -> None:
        if self.level is None and self.scope == "movie" and self.percentile != 100:
            raise InputError("saturate: scope=movie supports percentile=100 (the movie's "
                             "maximum) only", hint="use scope=frame, or give level=...")


def soft_saturate(block, level, *, knee: float, backend: Backend = Backend()):
    """Kernel: ``L * f(x / L)`` with the soft knee ``f`` of this module.

    Parameters
    ----------
    block : numpy.ndarray or cupy.ndarray
        Floating-point image values, any shape.
    level : float or array
        Reference level ``L`` in image units, broadcastable to ``block``
        (e.g. ``(t, 1, 1)`` per frame); where ``L <= 0`` the block is unchanged.
    knee : float
        ``k`` in [0, 1).
    backend : Backend

    Returns
    -------
    array
        Same shape and dtype as ``block``.

    Examples
    --------
    >>> x = np.array([0.0, 50.0, 70.0, 100.0, 1000.0], dtype=np.float32)
    >>> np.round(soft_saturate(x, 100.0, knee=0.7), 2)
    array([  0.  ,  50.  ,  70.  ,  92.85, 100.  ], dtype=float32)
    """
    xp = backend.xp
    level = xp.asarray(level, dtype=block.dtype)
    positive = level > 0
    safe = xp.where(positive, level, 1).astype(block.dtype)
    u = block / safe
    span = 1.0 - knee
    squeezed = knee + span * xp.tanh((u - knee) / span)
    out = xp.where(u > knee, squeezed, u) * safe
    return xp.where(positive, out, block).astype(block.dtype)


def _frame_percentile(block, *, q: float, backend: Backend):
    """Per-frame ``q``-th percentile of a ``(t, y, x)`` block of whole frames, ``(t, 1, 1)``."""
    flat = block.reshape(block.shape[0], -1)
    level = backend.xp.percentile(flat, q, axis=1)
    return level.astype(block.dtype).reshape(-1, 1, 1)


def reference_level(movie, params: SaturateParams, backend: Backend):
    """The lazy level ``L``: a float, ``(t, 1, 1)`` per frame, or ``(1, 1, 1)`` per movie."""
    from dask.graph_manipulation import clone

    if params.level is not None:
        return float(params.level)
    if params.scope == "movie":
        return clone(movie).max(axis=(0, 1, 2), keepdims=True)
    if params.percentile == 100:
        return movie.max(axis=(1, 2), keepdims=True)
    frames = movie.rechunk({1: -1, 2: -1})
    return frames.map_blocks(_frame_percentile, q=float(params.percentile), backend=backend,
                             chunks=(frames.chunks[0], (1,), (1,)), dtype=movie.dtype,
                             meta=backend.xp.empty((0, 0, 0), dtype=movie.dtype))


def build(movie, params: SaturateParams, backend: Backend):
    """Lazy ``saturate`` of a ``(t, y, x)`` dask array; chunks unchanged."""
    dtype = np.promote_types(movie.dtype, np.float32)
    movie = movie.astype(dtype)
    meta = backend.xp.empty((0,) * movie.ndim, dtype=dtype)
    level = reference_level(movie, params, backend)
    return movie.map_blocks(soft_saturate, level, knee=params.knee, backend=backend,
                            dtype=dtype, meta=meta)


STEP = Step(name="saturate", params=SaturateParams, build=build, positional="knee",
            summary="soft saturation: pixels above knee * level compressed smoothly below level")
