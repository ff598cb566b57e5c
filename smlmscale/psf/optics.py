"""The optical system and the pupil grid it defines (NumPy; no paths, no printing).

Geometry, as in the seed's 4f relay (Deep-STORM3D): the objective and tube lens form an
image at magnification ``M``; a 4f relay of focal length ``f_4f`` puts the back focal
plane on a spatial light modulator (SLM) of pixel ``s`` and the image on the camera of
pixel ``p_cam = M * pixel_size`` (image plane). The SLM plane is sampled at its own
pixels on an ``N x N`` grid chosen so that one FFT of the pupil lands on camera pixels::

    N = wavelength * f_4f / (p_cam * s)        (0.67 um * 1e5 um / (11 um * 30 um) = 203)

rounded down and made odd, so the optical axis is the centre sample ``N // 2``. The
grid's spacing in spatial frequency is then ``1 / (N * pixel_size)`` in the sample plane
(exactly the camera pixels; the SLM pixel it stands for differs from ``s`` by the
rounding, ``N_exact / N - 1``, 1.5e-4 for the seed's optics). The objective's aperture,
``|k| <= NA / wavelength``, is a disc of radius ``NA * N * pixel_size / wavelength``
samples (48.3 for the seed: ``f_4f * NA / M / s``, the back-focal-plane radius in SLM
pixels), the ``pupil diameter`` a phase mask must cover.

Axial phases use the invariant ``rho = wavelength * |k| = n sin(theta)``: in a medium of
index ``n`` the axial wavenumber is ``k_z = 2 pi / wavelength * sqrt(n^2 - rho^2)``,
imaginary (evanescent, supercritical-angle light) where ``rho > n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from smlmscale.errors import InputError
from smlmscale.settings import Settings, setting

#: The pupil grid is refused beyond this many samples per side (memory and time).
MAX_GRID = 2049


@dataclass(frozen=True)
class OpticsSettings(Settings):
    """The optical system of a Fourier-optics (pupil) PSF; the seed's parameter names in
    brackets, their defaults those of Deep-STORM3D's demo 1.

    Attributes
    ----------
    wavelength_nm : float
        Mean emission wavelength, nm [lamda = 0.67 um].
    na : float
        Objective numerical aperture [NA].
    n_immersion : float
        Immersion-medium refractive index [noil].
    n_sample : float
        Imaging-medium (sample) refractive index [nwater].
    pixel_size_nm : float
        Camera pixel size in the sample plane, nm [pixel_size_CCD / M = 11 um / 100].
    magnification : float
        Optical magnification [M].
    slm_pixel_um : float
        Phase-mask (SLM) pixel, um [pixel_size_SLM].
    f_4f_um : float
        Focal length of the 4f relay lenses, um [f_4f].
    focus_nm : float
        Nominal focal plane: how far the focus is moved into the sample from the
        coverslip, nm [NFP = 1.5 um].
    """

    wavelength_nm: float = setting(670.0, min=0, min_open=True, unit="nm",
                                   help="Mean emission wavelength")
    na: float = setting(1.45, min=0, min_open=True, help="Objective numerical aperture")
    n_immersion: float = setting(1.518, min=1.0, help="Immersion-medium refractive index")
    n_sample: float = setting(1.33, min=1.0, help="Sample (imaging-medium) refractive index")
    pixel_size_nm: float = setting(110.0, min=0, min_open=True, unit="nm",
                                   help="Camera pixel size in the sample plane")
    magnification: float = setting(100.0, min=0, min_open=True, help="Optical magnification")
    slm_pixel_um: float = setting(30.0, min=0, min_open=True, unit="um", flag="--slm-pixel",
                                  help="Phase-mask (SLM) pixel size")
    f_4f_um: float = setting(1e5, min=0, min_open=True, unit="um", flag="--f-4f",
                             help="Focal length of the 4f relay lenses")
    focus_nm: float = setting(1500.0, unit="nm",
                              help="Nominal focal plane above the coverslip (NFP)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.na >= self.n_immersion:
            raise InputError(f"--na {self.na:g} must be below the immersion index "
                             f"--n-immersion {self.n_immersion:g}", param="na")
        n = grid_size(self)
        if n < 16:
            raise InputError(f"the pupil grid would be {n} samples across, too few to "
                             "image a PSF", param="slm_pixel_um",
                             hint="check --wavelength, --f-4f, --pixel-size, --magnification "
                                  "and --slm-pixel (the pupil grid is wavelength * f_4f / "
                                  "(camera pixel * SLM pixel))")
        if n > MAX_GRID:
            raise InputError(f"the pupil grid would be {n} samples across (at most "
                             f"{MAX_GRID})", param="slm_pixel_um",
                             hint="give the SLM pixel after binning (the seed bins to 30 um)")
        if self.na * self.pixel_size_nm / self.wavelength_nm >= 0.5:
            raise InputError(f"--pixel-size {self.pixel_size_nm:g} nm undersamples the PSF: "
                             f"it must be below wavelength / (2 NA) = "
                             f"{self.wavelength_nm / (2 * self.na):.0f} nm", param="pixel_size_nm")

    @property
    def camera_pixel_um(self) -> float:
        """The camera pixel in the image plane, um (``pixel_size_nm * M / 1000``)."""
        return self.pixel_size_nm * self.magnification / 1000.0

    @property
    def pupil_radius_px(self) -> float:
        """The aperture's radius on the pupil grid, samples (SLM px)."""
        return self.na * grid_size(self) * self.pixel_size_nm / self.wavelength_nm

    @property
    def pupil_diameter_px(self) -> int:
        """Samples across the aperture: ``2 floor(radius) + 1`` (what a mask must cover)."""
        return 2 * int(math.floor(self.pupil_radius_px)) + 1


def grid_size(optics: OpticsSettings) -> int:
    """``N``, samples per side of the pupil grid: ``wavelength f_4f / (p_cam s)``, rounded
    down, made odd.

    >>> grid_size(OpticsSettings())
    203
    """
    exact = (optics.wavelength_nm / 1000.0) * optics.f_4f_um / (
        optics.camera_pixel_um * optics.slm_pixel_um)
    n = int(math.floor(exact + 1e-9))
    return n if n % 2 else n + 1


@dataclass(frozen=True, eq=False)
class PupilGrid:
    """NumPy constants of the pupil plane of one optical system (``N x N``, the optical
    axis at sample ``N // 2``).

    The kernels work on the ``M`` samples inside the aperture only (a fifth of the grid):
    the ``*_ap`` arrays hold their constants, ``aperture`` and ``aperture_fft`` their flat
    indices in the centred and the FFT (``ifftshift``) layout.

    Attributes
    ----------
    optics : OpticsSettings
    n : int
        Samples per side.
    kx, ky : numpy.ndarray
        ``(N, N)`` spatial frequency of each sample, cycles per camera pixel (x along
        columns).
    rho, theta : numpy.ndarray
        ``(N, N)`` polar coordinates on the unit pupil: ``|k| / (NA / wavelength)`` and the
        angle from +x towards +y (rows), radians.
    amplitude : numpy.ndarray
        ``(N, N)``: 1 inside the aperture (``rho <= 1``), 0 outside.
    aperture, aperture_fft : numpy.ndarray
        ``(M,)`` int64 flat indices of the aperture's samples, centred and FFT layout.
    kx_ap, ky_ap : numpy.ndarray
        ``(M,)`` spatial frequency, cycles per camera pixel.
    kz_sample_re_ap, kz_sample_im_ap : numpy.ndarray
        ``(M,)`` real and imaginary parts of the axial wavenumber in the sample, rad/nm
        (the imaginary part is the evanescent decay of supercritical light).
    kz_immersion_ap : numpy.ndarray
        ``(M,)`` axial wavenumber in the immersion medium, rad/nm.
    freq2_r : numpy.ndarray
        ``(N, N // 2 + 1)`` squared spatial frequency of the image grid in ``rfft2`` order,
        (cycles/px)^2 (for the Gaussian blur).
    """

    optics: OpticsSettings
    n: int
    kx: np.ndarray
    ky: np.ndarray
    rho: np.ndarray
    theta: np.ndarray
    amplitude: np.ndarray
    aperture: np.ndarray
    aperture_fft: np.ndarray
    kx_ap: np.ndarray
    ky_ap: np.ndarray
    kz_sample_re_ap: np.ndarray
    kz_sample_im_ap: np.ndarray
    kz_immersion_ap: np.ndarray
    freq2_r: np.ndarray

    @property
    def centre(self) -> int:
        """Index of the optical axis (and of the PSF's centre pixel), ``n // 2``."""
        return self.n // 2


def pupil_grid(optics: OpticsSettings) -> PupilGrid:
    """The :class:`PupilGrid` of ``optics``.

    Examples
    --------
    >>> g = pupil_grid(OpticsSettings())
    >>> g.n, g.aperture.size, round(float(g.optics.pupil_radius_px), 2)
    (203, 7345, 48.33)
    """
    n = grid_size(optics)
    k = (np.arange(n) - n // 2) / n  # cycles per camera pixel
    ky, kx = np.meshgrid(k, k, indexing="ij")
    lam = optics.wavelength_nm
    rho_n = lam * np.hypot(kx, ky) / optics.pixel_size_nm  # n sin(theta)
    rho = rho_n / optics.na
    rows, cols = np.nonzero(rho <= 1.0)
    ap_rho_n = rho_n[rows, cols]
    kz_s = (2 * np.pi / lam) * np.sqrt((optics.n_sample ** 2 - ap_rho_n ** 2).astype(complex))
    kz_i = (2 * np.pi / lam) * np.sqrt(optics.n_immersion ** 2 - ap_rho_n ** 2)
    fft_rows, fft_cols = (rows - n // 2) % n, (cols - n // 2) % n
    fy, fx = np.fft.fftfreq(n)[:, None], np.fft.rfftfreq(n)[None, :]
    return PupilGrid(optics=optics, n=n, kx=kx, ky=ky, rho=rho, theta=np.arctan2(ky, kx),
                     amplitude=(rho <= 1.0).astype(np.float64),
                     aperture=(rows * n + cols).astype(np.int64),
                     aperture_fft=(fft_rows * n + fft_cols).astype(np.int64),
                     kx_ap=kx[rows, cols], ky_ap=ky[rows, cols],
                     kz_sample_re_ap=kz_s.real, kz_sample_im_ap=np.abs(kz_s.imag),
                     kz_immersion_ap=kz_i, freq2_r=fx ** 2 + fy ** 2)


__all__ = ["MAX_GRID", "OpticsSettings", "PupilGrid", "grid_size", "pupil_grid"]
