"""``normalize``: intensity normalization (seed 004's two forms, and mean/std).

Modes (``normalize:frame`` is ``normalize:mode=frame``):

``frame``
    Each frame projected to [0, 1]: ``(x - min) / (max - min)`` with the
    frame's own minimum and maximum (seed 004's ``project_01``; helps when the
    SNR changes from frame to frame). A constant frame becomes 0.
``global``
    ``(x - subtract) / divide`` with fixed numbers (seed 004's
    ``global_factors``, e.g. ``subtract=0,divide=250``).
``meanstd``
    ``(x - mean) / std`` with the whole movie's mean and (population)
    standard deviation, lazy reductions in float64, unless ``mean`` and/or
    ``std`` are given. A constant movie (``std = 0``) is only centred.

Per-frame minima and maxima are lazy reductions over y and x (any chunking);
the whole-movie statistics are computed from a clone of the input graph
(:func:`dask.graph_manipulation.clone`), so the input is read twice instead of
being held in memory until they are known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlmscale.errors import InputError
from smlmscale.preprocess.base import Backend, Step, StepParams
from smlmscale.settings import default_of, setting

MODES = ("frame", "global", "meanstd")


@dataclass(frozen=True)
class NormalizeParams(StepParams):
    """Parameters of ``normalize``.

    Attributes
    ----------
    mode : {"frame", "global", "meanstd"}
        The positional shorthand. Default ``"frame"``.
    subtract : float
        ``mode="global"``: subtracted first, image units. Default 0.
    divide : float
        ``mode="global"``: then divided by (non-zero), image units. Default 1.
    mean : float, optional
        ``mode="meanstd"``: the mean to subtract (image units); default: the
        movie's mean.
    std : float, optional
        ``mode="meanstd"``: the standard deviation to divide by (> 0, image
        units); default: the movie's standard deviation.
    """

    settings_prefix = "normalize: "

    mode: str = setting("frame", choices=MODES, help="Per frame, global, or mean/std")
    subtract: float = setting(0.0, unit="image units", help="Subtracted first (mode=global)")
    divide: float = setting(1.0, unit="image units", help="Then divided by (mode=global)")
    mean: float | None = setting(None, unit="image units", help="Mean (mode=meanstd)",
                                 default_text="the movie's")
    std: float | None = setting(None, min=0, min_open=True, unit="image units",
                                message="{flag} must be > 0, got {value}",
                                help="Standard deviation (mode=meanstd)",
                                default_text="the movie's")

    def validate(self) -> None:
        if self.divide == 0:
            raise InputError(f"normalize: divide must be a non-zero number, got {self.divide}")
        for mode, names in (("global", ("subtract", "divide")), ("meanstd", ("mean", "std"))):
            given = [name for name in names if getattr(self, name) != default_of(self, name)]
            if self.mode != mode and given:
                raise InputError(f"normalize: {', '.join(given)} only apply to mode={mode}",
                                 hint=f"add mode={mode} or drop {', '.join(given)}")


def scale_shift(block, shift, scale):
    """Kernel: ``(block - shift) / scale`` in ``block``'s dtype.

    ``shift`` and ``scale`` are numbers or arrays broadcastable to ``block``
    (``(t, 1, 1)`` per frame, ``(1, 1, 1)`` per movie); a ``scale`` of 0 is
    taken as 1.

    Examples
    --------
    >>> scale_shift(np.array([10.0, 20.0], dtype=np.float32), 10.0, 5.0)
    array([0., 2.], dtype=float32)
    """
    dtype = block.dtype
    shift, scale = _as_dtype(shift, dtype), _as_dtype(scale, dtype)
    scale = scale + (scale == 0).astype(dtype)
    return ((block - shift) / scale).astype(dtype)


def _as_dtype(value, dtype):
    """A number or (NumPy/CuPy) array in ``dtype``."""
    return value.astype(dtype) if hasattr(value, "shape") else np.dtype(dtype).type(value)


def build(movie, params: NormalizeParams, backend: Backend):
    """Lazy ``normalize`` of a ``(t, y, x)`` dask array; chunks unchanged."""
    from dask.graph_manipulation import clone

    dtype = np.promote_types(movie.dtype, np.float32)
    movie = movie.astype(dtype)
    meta = backend.xp.empty((0,) * movie.ndim, dtype=dtype)
    if params.mode == "global":
        shift, scale = float(params.subtract), float(params.divide)
    elif params.mode == "frame":
        low = movie.min(axis=(1, 2), keepdims=True)
        shift, scale = low, movie.max(axis=(1, 2), keepdims=True) - low
    else:
        stats = clone(movie)
        keep = dict(axis=(0, 1, 2), keepdims=True, dtype=np.float64)
        shift = float(params.mean) if params.mean is not None else stats.mean(**keep)
        scale = float(params.std) if params.std is not None else stats.std(**keep)
    return movie.map_blocks(scale_shift, shift, scale, dtype=dtype, meta=meta)


STEP = Step(name="normalize", params=NormalizeParams, build=build, positional="mode",
            summary="per-frame [0, 1], global (x - subtract) / divide, or (x - mean) / std")
