"""Background and camera kernels: super-Gaussian maps, shot noise, EM gain, read noise, ADU.

Kernels: NumPy in, NumPy out; the random generator is an argument. Images are
``(height, width)``; pixel ``(i, j)`` has its centre at ``(i + 0.5, j + 0.5)`` px.
"""

from __future__ import annotations

import math

import numpy as np

from smlmscale.simulate.settings import BackgroundSettings, CameraSettings


def super_gaussian(shape: tuple[int, int], *, centre_px: tuple[float, float],
                   widths_px: tuple[float, float], theta_rad: float, order: float) -> np.ndarray:
    """A rotated super-Gaussian peaking at 1: ``exp(-q**order / 2)``.

    Parameters
    ----------
    shape : (int, int)
        ``(height, width)`` in px.
    centre_px : (float, float)
        ``(y, x)`` of the peak, px (pixel-corner origin).
    widths_px : (float, float)
        Widths along the rotated axes ``(v, u)``, px: ``q = (u / w_u)**2 + (v / w_v)**2``.
    theta_rad : float
        Rotation of the ``u`` axis from the x axis, rad.
    order : float
        1 is a Gaussian of standard deviations ``widths_px``; larger is flatter-topped.

    Returns
    -------
    numpy.ndarray
        float64 ``(height, width)`` in (0, 1].

    Examples
    --------
    >>> g = super_gaussian((5, 5), centre_px=(2.5, 2.5), widths_px=(1, 1), theta_rad=0,
    ...                    order=1)
    >>> float(g[2, 2]), round(float(g[2, 3]), 4)
    (1.0, 0.6065)
    """
    height, width = shape
    y = (np.arange(height) + 0.5 - centre_px[0])[:, None]
    x = (np.arange(width) + 0.5 - centre_px[1])[None, :]
    cos, sin = math.cos(theta_rad), math.sin(theta_rad)
    u = x * cos + y * sin
    v = -x * sin + y * cos
    q = (u / widths_px[1]) ** 2 + (v / widths_px[0]) ** 2
    return np.exp(-0.5 * q ** order)


def nonuniform_shape(rng: np.random.Generator, shape: tuple[int, int],
                     background: BackgroundSettings) -> tuple[np.ndarray, float]:
    """The movie's super-Gaussian map and its amplitude factor, drawn once per movie.

    Centre shifted from the field centre by up to ``nonuniform_offset_px`` in x
    and y, angle uniform in ``nonuniform_theta_range_rad``, each width and the
    amplitude scaled by a uniform factor in ``[1, 1 + nonuniform_jitter]``.

    Returns
    -------
    map : numpy.ndarray
        ``(height, width)`` float64 in (0, 1].
    amplitude_factor : float
    """
    height, width = shape
    offset = rng.uniform(-background.nonuniform_offset_px, background.nonuniform_offset_px, 2)
    theta = rng.uniform(*background.nonuniform_theta_range_rad)
    jitter = rng.uniform(1.0, 1.0 + background.nonuniform_jitter, 3)
    frac = background.nonuniform_width_fraction
    g = super_gaussian(shape, centre_px=(height / 2 + offset[0], width / 2 + offset[1]),
                       widths_px=(frac * height * jitter[0], frac * width * jitter[1]),
                       theta_rad=theta, order=background.nonuniform_order)
    return g, float(jitter[2])


def field_maps(rng: np.random.Generator, shape: tuple[int, int], background: BackgroundSettings,
               camera: CameraSettings) -> tuple[np.ndarray, np.ndarray | float]:
    """One draw of the background and read-noise maps (:func:`nonuniform_shape`).

    Returns
    -------
    background : numpy.ndarray
        ``(height, width)`` float64 expected background photons per pixel:
        ``photons_per_px + nonuniform_photons * amplitude * g``.
    read_noise_e : numpy.ndarray or float
        Read-noise sigma, e-: ``read_noise_e``, or with ``read_noise_max_e`` rising from
        it to that value as ``g`` goes from 0 to 1 (per pixel).
    """
    g, amplitude = nonuniform_shape(rng, shape, background)
    photons = background.photons_per_px + background.nonuniform_photons * amplitude * g
    read_noise: np.ndarray | float = camera.read_noise_e
    if camera.read_noise_max_e is not None:
        read_noise = camera.read_noise_e + (camera.read_noise_max_e - camera.read_noise_e) * g
    return photons, read_noise


#: Pixels per strip of :func:`expose_frame` (64 KiB of float64: no fresh memory mappings).
STRIP_PX = 8192


def expose_frame(out: np.ndarray, rng: np.random.Generator, photons: np.ndarray,
                 camera: CameraSettings, read_noise_e: np.ndarray | float, *,
                 baseline_adu: float | None = None) -> np.ndarray:
    """:func:`expose` a frame strip by strip of rows into ``out`` (its dtype); returns ``out``.

    The draws for each strip follow each other in ``rng``, so a frame's noise
    depends only on ``rng`` and the frame shape.
    """
    height, width = photons.shape
    rows = max(1, STRIP_PX // width)
    read = np.asarray(read_noise_e, dtype=np.float64)
    for r0 in range(0, height, rows):
        strip = slice(r0, min(height, r0 + rows))
        out[strip] = expose(rng, photons[strip], camera, read[strip] if read.ndim else read,
                            out.dtype, baseline_adu=baseline_adu)
    return out


def expose(rng: np.random.Generator, photons: np.ndarray, camera: CameraSettings,
           read_noise_e: np.ndarray | float, dtype: np.dtype | str, *,
           baseline_adu: float | None = None) -> np.ndarray:
    """Camera counts (ADU) of one exposure of an expected photon image.

    ``electrons = Poisson(qe * photons)``; with EM gain ``G > 1`` they become
    ``Gamma(electrons, G)`` (0 for 0), whose variance doubles that of the
    amplified shot noise (excess noise factor 2); then ``+ N(0, read_noise_e^2)``,
    ``/ e_per_adu + baseline_adu``, rounded to the nearest count and clipped to
    the range of an integer ``dtype`` (float32 keeps the fractional value). Without
    ``camera.shot_noise`` the electrons are ``qe * photons`` (and ``G`` times that).

    Parameters
    ----------
    rng : numpy.random.Generator
    photons : numpy.ndarray
        Expected photons per pixel reaching the camera (background + spots).
    camera : CameraSettings
    read_noise_e : float or numpy.ndarray
        Read-noise standard deviation in e-, scalar or per pixel.
    dtype : numpy dtype
    baseline_adu : float, optional
        This exposure's baseline, ADU, instead of ``camera.baseline_adu``.

    Returns
    -------
    numpy.ndarray
        Same shape as ``photons``, of ``dtype``.
    """
    if not camera.shot_noise:
        signal = (camera.qe * camera.em_gain) * np.asarray(photons, np.float64)
    elif camera.em_gain > 1.0:
        signal = rng.gamma(rng.poisson(camera.qe * photons), camera.em_gain)  # shape 0: 0
    else:
        signal = rng.poisson(camera.qe * photons).astype(np.float64)
    if np.any(np.asarray(read_noise_e) > 0):
        noise = rng.standard_normal(photons.shape, dtype=np.float32)
        signal += noise * np.asarray(read_noise_e, dtype=np.float64)
    adu = signal
    if camera.e_per_adu != 1.0:
        adu /= camera.e_per_adu
    adu += camera.baseline_adu if baseline_adu is None else baseline_adu
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return adu.astype(dtype)
    info = np.iinfo(dtype)
    np.rint(adu, out=adu)
    np.clip(adu, info.min, info.max, out=adu)
    return adu.astype(dtype)
