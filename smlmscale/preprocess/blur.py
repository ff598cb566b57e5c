"""``blur``: a Gaussian blur of each frame (y and x only, never along t).

Each frame equals ``scipy.ndimage.gaussian_filter(frame, sigma, mode="reflect",
truncate=truncate)`` (floating point): the same separable 1-D passes, y then x.
The Dask layer is :func:`~smlmscale.preprocess.overlap.map_frames_overlap` with a
halo of the kernel radius ``int(truncate * sigma + 0.5)`` px (SciPy's): chunk
borders are invisible, chunks are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlmscale.preprocess.base import Backend, Step, StepParams
from smlmscale.preprocess.overlap import map_frames_overlap
from smlmscale.settings import setting


@dataclass(frozen=True)
class BlurParams(StepParams):
    """Parameters of ``blur`` (``blur:1.5`` is ``blur:sigma=1.5``).

    Attributes
    ----------
    sigma : float
        Standard deviation of the Gaussian in px (y and x); the positional
        shorthand. Default 1.0.
    truncate : float
        Kernel half-width in standard deviations (SciPy's ``truncate``): the
        kernel radius, and the halo, is ``int(truncate * sigma + 0.5)`` px.
        Default 4.0.
    """

    settings_prefix = "blur: "

    sigma: float = setting(1.0, min=0, min_open=True, unit="px",
                           message="{flag} must be > 0 (px), got {value}",
                           help="Standard deviation of the Gaussian (y and x)")
    truncate: float = setting(4.0, min=0, min_open=True, unit="standard deviations",
                              message="{flag} must be > 0 (standard deviations), got {value}",
                              help="Kernel half-width")

    @property
    def radius_px(self) -> int:
        """Kernel radius (and halo) in px, as SciPy computes it."""
        return int(self.truncate * self.sigma + 0.5)


def halo_px(params: BlurParams) -> int:
    """Halo in px that makes chunked results exact: the kernel radius."""
    return params.radius_px


def gaussian_frames(block, *, sigma: float, truncate: float, backend: Backend = Backend()):
    """Kernel: Gaussian blur of every frame of a ``(t, y, x)`` block, reflected borders.

    Parameters
    ----------
    block : numpy.ndarray or cupy.ndarray
        ``(t, y, x)``; integers are filtered as float32.
    sigma : float
        Standard deviation in px.
    truncate : float
        Kernel radius in standard deviations.
    backend : Backend

    Returns
    -------
    array
        Same shape; float32, or float64 for float64 input.

    Examples
    --------
    >>> from scipy import ndimage
    >>> x = np.random.default_rng(0).random((2, 9, 7), dtype=np.float32)
    >>> bool(np.array_equal(gaussian_frames(x, sigma=1.5, truncate=4.0)[1],
    ...                     ndimage.gaussian_filter(x[1], 1.5, truncate=4.0)))
    True
    """
    ndimage = backend.ndimage
    dtype = np.promote_types(block.dtype, np.float32)
    # Integers are converted as the first pass reads them (exactly, as astype would).
    out = ndimage.gaussian_filter1d(block, sigma, axis=1, mode="reflect", truncate=truncate,
                                    output=dtype)
    if not backend.spec.buffered_filters:
        return ndimage.gaussian_filter1d(out, sigma, axis=2, mode="reflect", truncate=truncate)
    # SciPy filters line by line through a buffer, so the second pass may write in place,
    # as scipy.ndimage.gaussian_filter does: one chunk-sized allocation instead of three.
    ndimage.gaussian_filter1d(out, sigma, axis=2, mode="reflect", truncate=truncate, output=out)
    return out


def build(movie, params: BlurParams, backend: Backend):
    """Lazy ``blur`` of a ``(t, y, x)`` dask array; chunks kept (see the module notes)."""
    dtype = np.promote_types(movie.dtype, np.float32)  # the kernel converts as it filters
    return map_frames_overlap(gaussian_frames, movie, halo_px=halo_px(params), dtype=dtype,
                              meta=backend.xp.empty((0,) * movie.ndim, dtype=dtype),
                              sigma=float(params.sigma), truncate=float(params.truncate),
                              backend=backend)


STEP = Step(name="blur", params=BlurParams, build=build, positional="sigma", halo_px=halo_px,
            summary="Gaussian blur of each frame, sigma in px (y, x only)")
