"""Zernike polynomials (Noll indexing) on the unit pupil, and the built-in phase masks.

``Z_j(rho, theta)`` is normalized to unit RMS over the unit disc (Noll 1976), so a
coefficient is the RMS of its phase, radians. Noll's order: ``j = 1`` piston, 2 and 3
tip/tilt (x, y), 4 defocus, 5 oblique and 6 vertical astigmatism (``sin 2 theta``,
``cos 2 theta``), 11 spherical, 12/13 secondary astigmatism, 23/24 tertiary; even ``j``
take ``cos(m theta)``, odd ``j`` ``sin(m theta)``. ``theta`` runs from +x (columns)
towards +y (rows) on the pupil grid (:class:`~smlmscale.psf.optics.PupilGrid`), and the
pupil maps onto the image without inversion, so ``cos 2 theta`` elongates the PSF along
x or y.

Built-in masks (:data:`BUILTIN_MASKS`), coefficients in radians RMS:

- ``astigmatism``: ``Z6`` alone, the cylindrical-lens astigmatism of 3D STORM;
- ``tetrapod``: vertical astigmatism of orders 2, 4 and 6 (``Z6``, ``Z12``, ``Z24``) of
  alternating sign, a Tetrapod-like mask (Shechtman et al., Nano Lett. 2015): two lobes
  whose axis turns through 90 degrees over a ~3 um axial range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from smlmscale.errors import InputError

#: Built-in masks: name -> {Noll index: coefficient (radians RMS)}.
BUILTIN_MASKS: dict[str, dict[int, float]] = {
    "astigmatism": {6: 1.0},
    "tetrapod": {6: 2.5, 12: -1.2, 24: 0.4},
}


def noll_to_nm(j: int) -> tuple[int, int]:
    """Radial order ``n`` and signed azimuthal frequency ``m`` of Noll index ``j``
    (``m < 0``: ``sin``).

    Examples
    --------
    >>> [noll_to_nm(j) for j in (1, 2, 3, 4, 5, 6, 11, 12, 13, 24)]
    [(0, 0), (1, 1), (1, -1), (2, 0), (2, -2), (2, 2), (4, 0), (4, 2), (4, -2), (6, 2)]
    """
    if j < 1:
        raise InputError(f"Noll index {j} is not valid", hint="Noll indices start at 1")
    n = 0
    while (n + 1) * (n + 2) // 2 < j:
        n += 1
    first = n * (n + 1) // 2 + 1  # Noll index of the first term of order n
    offset = j - first            # 0 .. n
    # |m| runs over n % 2, n % 2 + 2, ..., n, each non-zero |m| twice (cos for even j).
    ms = [abs_m for abs_m in range(n % 2, n + 1, 2) for _ in range(1 if abs_m == 0 else 2)]
    m = ms[offset]
    if m == 0:
        return n, 0
    return n, m if j % 2 == 0 else -m


def radial(n: int, m: int, rho: np.ndarray) -> np.ndarray:
    """The radial polynomial ``R_n^|m|(rho)``."""
    m = abs(m)
    out = np.zeros_like(rho, dtype=np.float64)
    for s in range((n - m) // 2 + 1):
        c = ((-1) ** s * math.factorial(n - s)
             / (math.factorial(s) * math.factorial((n + m) // 2 - s)
                * math.factorial((n - m) // 2 - s)))
        out += c * rho ** (n - 2 * s)
    return out


def zernike(j: int, rho: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``Z_j`` (Noll, unit RMS on the unit disc) at ``rho``, ``theta``; 0 for ``rho > 1``.

    Examples
    --------
    >>> r = np.sqrt(np.random.default_rng(0).uniform(0, 1, 200_000))
    >>> t = np.random.default_rng(1).uniform(0, 2 * np.pi, 200_000)
    >>> round(float(np.sqrt(np.mean(zernike(6, r, t) ** 2))), 2)
    1.0
    """
    n, m = noll_to_nm(j)
    norm = math.sqrt(n + 1) if m == 0 else math.sqrt(2 * (n + 1))
    value = norm * radial(n, m, rho)
    if m > 0:
        value = value * np.cos(m * theta)
    elif m < 0:
        value = value * np.sin(-m * theta)
    return np.where(rho <= 1.0, value, 0.0)


def zernike_phase(coefficients: Mapping[int, float], rho: np.ndarray,
                  theta: np.ndarray) -> np.ndarray:
    """``sum_j c_j Z_j``, radians, from ``{Noll index: coefficient (rad RMS)}``."""
    phase = np.zeros(np.broadcast(rho, theta).shape)
    for j, c in coefficients.items():
        phase += float(c) * zernike(int(j), rho, theta)
    return phase


def builtin_coefficients(name: str, scale: float = 1.0) -> dict[int, float]:
    """The Zernike coefficients of built-in mask ``name``, times ``scale``.

    Raises
    ------
    InputError
        An unknown name.
    """
    if name not in BUILTIN_MASKS:
        raise InputError(f"unknown built-in mask {name!r}", param="builtin",
                         hint=f"choose {' or '.join(BUILTIN_MASKS)}")
    return {j: c * scale for j, c in BUILTIN_MASKS[name].items()}


def parse_zernike(text: str) -> dict[int, float]:
    """``"6:1.0,12:-0.5"`` (Noll index: radians RMS, comma-separated) as a mapping.

    >>> parse_zernike("6:1.5, 12:-0.5")
    {6: 1.5, 12: -0.5}

    Raises
    ------
    InputError
        Not ``J:C`` pairs, or a Noll index below 1.
    """
    out: dict[int, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition(":")
        try:
            j, c = int(key), float(value)
        except ValueError:
            j = c = None
        if not sep or j is None or j < 1:
            raise InputError(f"{{flag}} {text!r} is not a list of NOLL:RADIANS pairs",
                             param="zernike", hint="e.g. --zernike 6:1.0,12:-0.3")
        out[j] = out.get(j, 0.0) + c
    if not out:
        raise InputError("{flag} is empty", param="zernike", hint="e.g. --zernike 6:1.0")
    return out


__all__ = ["BUILTIN_MASKS", "builtin_coefficients", "noll_to_nm", "parse_zernike", "radial",
           "zernike", "zernike_phase"]
