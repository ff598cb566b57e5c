"""``offset``: subtract the camera baseline, optionally converting ADU to photons.

The inverse of the camera model of :func:`smlmscale.simulate.camera.expose`
(``ADU = qe * em_gain * photons / e_per_adu + baseline``, in expectation)::

    ADU:      y = x - baseline
    photons:  y = (x - baseline) * e_per_adu / (em_gain * qe)     (when e_per_adu is given)

Elementwise: one ``map_blocks``, no halo, chunking unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smlmscale.errors import InputError
from smlmscale.preprocess.base import Backend, Step, StepParams
from smlmscale.settings import setting


@dataclass(frozen=True)
class OffsetParams(StepParams):
    """Parameters of ``offset`` (``offset:100`` is ``offset:baseline=100``).

    Attributes
    ----------
    baseline : float
        Camera baseline (offset) in ADU, subtracted from every pixel; required,
        the positional shorthand. Often 100 (seed 002's "camera offset").
    e_per_adu : float, optional
        Conversion gain in electrons per ADU. When given, the output is in
        photons, ``(x - baseline) * e_per_adu / (em_gain * qe)``; otherwise it
        stays in ADU. Default: None (ADU).
    em_gain : float
        Electron-multiplying gain of an EMCCD (1 for sCMOS/CCD); needs
        ``e_per_adu``. Default 1.
    qe : float
        Quantum efficiency in (0, 1], electrons per photon; needs ``e_per_adu``.
        Default 1.
    """

    settings_prefix = "offset: "

    baseline: float = setting(unit="ADU", help="Camera baseline subtracted from every pixel")
    e_per_adu: float | None = setting(
        None, min=0, min_open=True, unit="electrons per ADU",
        message="{flag} must be > 0 (electrons per ADU), got {value}",
        help="Conversion gain; when given, the output is in photons")
    em_gain: float = setting(1.0, min=1, help="EMCCD gain (1 for sCMOS/CCD); needs e_per_adu")
    qe: float = setting(1.0, min=0, min_open=True, max=1, unit="electrons per photon",
                        help="Quantum efficiency; needs e_per_adu")

    def validate(self) -> None:
        if self.e_per_adu is None and (self.em_gain != 1 or self.qe != 1):
            raise InputError("offset: em_gain and qe convert ADU to photons, which needs "
                             "e_per_adu", hint="give e_per_adu=... (electrons per ADU)")

    @property
    def scale(self) -> float:
        """Output units per ADU: 1, or photons per ADU."""
        if self.e_per_adu is None:
            return 1.0
        return self.e_per_adu / (self.em_gain * self.qe)


def subtract_offset(block, *, baseline: float, scale: float):
    """Kernel: ``(block - baseline) * scale`` in floating point.

    Parameters
    ----------
    block : numpy.ndarray or cupy.ndarray
        Camera counts in ADU, any shape (elementwise: NumPy and CuPy alike).
    baseline : float
        ADU.
    scale : float
        Output units per ADU (1 keeps ADU).

    Returns
    -------
    array
        float32 for integer or float32 input (float64 stays float64).

    Examples
    --------
    >>> subtract_offset(np.array([100, 150], dtype=np.uint16), baseline=100, scale=0.5)
    array([ 0., 25.], dtype=float32)
    """
    dtype = np.promote_types(block.dtype, np.float32)
    out = block.astype(dtype) - dtype.type(baseline)
    if scale != 1.0:
        out *= dtype.type(scale)
    return out


def build(movie, params: OffsetParams, backend: Backend):
    """Lazy ``offset`` of a ``(t, y, x)`` dask array; chunks unchanged."""
    dtype = np.promote_types(movie.dtype, np.float32)
    return movie.map_blocks(subtract_offset, baseline=params.baseline, scale=params.scale,
                            dtype=dtype,
                            meta=backend.xp.empty((0,) * movie.ndim, dtype=dtype))


STEP = Step(name="offset", params=OffsetParams, build=build, positional="baseline",
            summary="subtract the camera baseline (ADU); with e_per_adu, em_gain, qe: photons")
