"""Kernels: the lateral localization precision limit of a 2D Gaussian PSF (Mortensen 2010).

Mortensen, Churchman, Spudich & Flyvbjerg, "Optimized localization analysis for
single-molecule tracking and super-resolution microscopy", Nat. Methods 7, 377-381
(2010), Eq. 6, per lateral axis:

.. math::

    \\sigma_a^2 = \\sigma^2 + a^2 / 12, \\qquad
    \\operatorname{Var}(x) = F \\, \\frac{\\sigma_a^2}{N}
        \\left(\\frac{16}{9} + \\frac{8 \\pi \\sigma_a^2 b}{N a^2}\\right)

with ``N`` photons, ``b`` expected background photons per pixel (Mortensen's
:math:`b^2`), pixel size ``a`` and PSF standard deviation ``sigma`` in nm, and the
noise factor ``F``: 1 for an ideal (sCMOS/CCD) camera, 2 for an EMCCD, whose
multiplication noise doubles the variance. The same expression, with ``F`` the
"noise scaling factor, 2 for an EM-CCD camera; 1 otherwise" and the background as
"the expected number of photons per pixel", is GDSC SMLM's "Localisation Precision
for Least Squares Fitting" (``docs/localisation_precision.rst`` in aherbert/gdsc-smlm,
checked 2026-11-22).

Eq. 6 is the precision of a least-squares Gaussian fit, which is the bound the
field usually quotes for it; a maximum-likelihood fit reaches the information limit
(Mortensen Eq. 5), which without background is :math:`\\sigma_a^2 / N`, 9/16 of
Eq. 6. Ratios reported against this bound (``rmse_over_crlb``) are therefore
against the least-squares limit; :func:`mle_localization_variance_nm2` gives Eq. 5,

.. math::

    \\operatorname{Var}(x) = F \\, \\frac{\\sigma_a^2}{N}
        \\left(1 + \\int_0^1 \\frac{\\ln t}{1 + t / \\tau} \\, dt\\right)^{-1},
    \\qquad \\tau = \\frac{2 \\pi \\sigma_a^2 b}{N a^2},

the Fisher-information (Cramer-Rao) limit that an unbiased estimator can reach.
"""

from __future__ import annotations

import numpy as np

#: The noise factor ``F`` of an EMCCD camera (it multiplies the variance).
EMCCD_NOISE_FACTOR = 2.0
#: Nodes of the Eq. 5 integral, after t = exp(-u), on u in [0, _U_MAX] (Simpson's rule).
_U_NODES, _U_MAX = 4001, 60.0


def _inputs(photons, psf_sigma_nm, background_photons, pixel_size_nm):
    """float64 ``N, b, a`` and ``sigma_a^2 = sigma^2 + a^2 / 12`` (nm^2)."""
    photons = np.asarray(photons, dtype=np.float64)
    sigma = np.asarray(psf_sigma_nm, dtype=np.float64)
    pixel = np.asarray(pixel_size_nm, dtype=np.float64)
    return (photons, np.asarray(background_photons, dtype=np.float64), pixel,
            sigma * sigma + pixel * pixel / 12.0)


def localization_variance_nm2(photons, *, psf_sigma_nm, background_photons, pixel_size_nm,
                              noise_factor: float = 1.0) -> np.ndarray:
    """Variance of the lateral position along one axis, Mortensen et al. 2010 Eq. 6, in nm^2.

    Parameters
    ----------
    photons : array_like
        Detected photons ``N`` of each emitter (> 0; otherwise the result is inf/nan).
    psf_sigma_nm : array_like
        Standard deviation of the Gaussian PSF in nm.
    background_photons : array_like
        Expected background photons per pixel ``b`` (>= 0).
    pixel_size_nm : array_like
        Camera pixel size ``a`` in nm (object space).
    noise_factor : float, optional
        ``F``: 1 (default) for an ideal camera, 2 (:data:`EMCCD_NOISE_FACTOR`) for an EMCCD.

    Returns
    -------
    numpy.ndarray of float64
        The variance in nm^2, broadcast over the inputs.

    Examples
    --------
    Without background the bound is ``16/9 * sigma_a^2 / N``:

    >>> float(localization_variance_nm2(1000, psf_sigma_nm=100, background_photons=0,
    ...                                 pixel_size_nm=100))   # 16/9 * (1e4 + 1e4/12) / 1000
    19.25925925925926
    """
    photons, background, pixel, sigma_a2 = _inputs(photons, psf_sigma_nm, background_photons,
                                                   pixel_size_nm)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = (sigma_a2 / photons) * (
            16.0 / 9.0 + 8.0 * np.pi * sigma_a2 * background / (photons * pixel * pixel))
    return float(noise_factor) * variance


def localization_precision_nm(photons, *, psf_sigma_nm, background_photons, pixel_size_nm,
                              noise_factor: float = 1.0) -> np.ndarray:
    """Lateral localization precision along one axis (square root of Eq. 6), in nm.

    Parameters as for :func:`localization_variance_nm2`.

    Examples
    --------
    An EMCCD (``noise_factor=2``) loses a factor sqrt(2):

    >>> ideal = localization_precision_nm(500, psf_sigma_nm=120, background_photons=10,
    ...                                   pixel_size_nm=107)
    >>> emccd = localization_precision_nm(500, psf_sigma_nm=120, background_photons=10,
    ...                                   pixel_size_nm=107, noise_factor=2)
    >>> round(float(emccd / ideal), 6)
    1.414214
    """
    return np.sqrt(localization_variance_nm2(
        photons, psf_sigma_nm=psf_sigma_nm, background_photons=background_photons,
        pixel_size_nm=pixel_size_nm, noise_factor=noise_factor))


def _eq5_integral(tau: np.ndarray) -> np.ndarray:
    """``int_0^1 ln t / (1 + t / tau) dt`` (< 0), as ``-int_0^inf u e^-u tau / (tau +
    e^-u) du`` by Simpson's rule (the integrand is smooth and decays as ``u e^-u``)."""
    from scipy.integrate import simpson

    u = np.linspace(0.0, _U_MAX, _U_NODES)
    e = np.exp(-u)
    flat = np.ravel(tau)
    out = np.empty(flat.shape)
    for start in range(0, flat.size, 4096):
        t = flat[start:start + 4096, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            f = -u * e * t / (t + e)
        out[start:start + 4096] = simpson(f, x=u, axis=1)
    return out.reshape(np.shape(tau))


def mle_localization_variance_nm2(photons, *, psf_sigma_nm, background_photons,
                                  pixel_size_nm, noise_factor: float = 1.0) -> np.ndarray:
    """Variance of the lateral position along one axis at the information limit
    (Mortensen et al. 2010 Eq. 5, a maximum-likelihood fit), in nm^2.

    Parameters as for :func:`localization_variance_nm2`.

    Examples
    --------
    Without background it is ``sigma_a^2 / N``, 9/16 of the least-squares bound:

    >>> float(mle_localization_variance_nm2(1000, psf_sigma_nm=100, background_photons=0,
    ...                                     pixel_size_nm=100))   # (1e4 + 1e4/12) / 1000
    10.833333333333334
    """
    photons, background, pixel, sigma_a2 = _inputs(photons, psf_sigma_nm, background_photons,
                                                   pixel_size_nm)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = 2.0 * np.pi * sigma_a2 * background / (photons * pixel * pixel)
        integral = np.where(tau > 0, _eq5_integral(np.where(tau > 0, tau, 1.0)), 0.0)
        variance = (sigma_a2 / photons) / (1.0 + integral)
    return float(noise_factor) * variance
