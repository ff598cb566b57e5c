"""Scalar Fourier-optics PSF kernels, in NumPy or TensorFlow (:mod:`smlmscale.psf.backend`).

For an emitter at depth ``z`` (nm above the coverslip, in the sample of index
``n_sample``) imaged with the objective's nominal focal plane at ``focus_nm`` (through
the immersion medium), at lateral offset ``(dx, dy)`` camera px, the pupil field is::

    P(k) = A(k) exp(i [phi_mask(k) - 2 pi k.(dx, dy) + k_z,sample(k) z - k_z,imm(k) NFP])

``A`` the aperture (1 for ``|k| <= NA / wavelength``); the axial terms are the depth-
dependent index-mismatch (and defocus) phase, the supercritical part of
``k_z,sample`` an evanescent decay ``exp(-|Im k_z| z)``. The image is ``|F^-1 P|^2`` on
the ``N x N`` grid of camera pixels (:mod:`smlmscale.psf.optics`), sampled at pixel
centres, normalized to unit energy (sum 1 over the whole ``N x N`` field, before any
crop); an optional Gaussian blur of ``sigma`` px (the seed's per-emitter
``blur_std_range``, for finite emitter size and pixel integration) multiplies its
spectrum by ``exp(-2 pi^2 sigma^2 f^2)``, which keeps the energy. The emitter's
reference pixel is the grid's centre, ``N // 2``; :func:`psf_images` crops around it.

Every argument may be a tensor with the TensorFlow backend (``mask_phase`` a
``tf.Variable``), so ``tf.GradientTape`` differentiates the images.
"""

from __future__ import annotations

import math
from typing import Any

from smlmscale.errors import InputError
from smlmscale.psf.backend import Backend, backend
from smlmscale.psf.optics import PupilGrid


def _column(xp: Backend, value: Any):
    """``value`` (a number or ``(B,)``) as a ``(B, 1, 1)`` array of the backend."""
    return xp.reshape(xp.asarray(value), (-1, 1, 1))


def pupil_field(grid: PupilGrid, *, dx_px: Any = 0.0, dy_px: Any = 0.0, z_nm: Any = 0.0,
                mask_phase: Any = None, xp: str | Backend = "numpy"):
    """The complex pupil functions ``(B, N, N)`` of ``B`` emitters, in FFT order (the
    optical axis at sample ``(0, 0)``, as :func:`numpy.fft.ifftshift` puts it).

    Only the aperture's samples are computed; the rest is 0.

    Parameters
    ----------
    grid : PupilGrid
        The optics' pupil plane (:func:`~smlmscale.psf.optics.pupil_grid`).
    dx_px, dy_px : float or array of shape (B,)
        Lateral offsets from the centre of the reference pixel, camera px (x: columns).
    z_nm : float or array of shape (B,)
        Emitter depths above the coverslip, nm.
    mask_phase : array of shape (N, N) or (B, N, N), optional
        Phase mask on the (centred) pupil grid, radians
        (:func:`~smlmscale.psf.masks.fit_mask`).
    xp : {"numpy", "tensorflow"} or Backend
    """
    xp = backend(xp)
    dx, dy, z = (xp.reshape(xp.asarray(v), (-1, 1)) for v in (dx_px, dy_px, z_nm))
    phase = (xp.asarray(grid.kz_sample_re_ap) * z
             - xp.asarray(grid.kz_immersion_ap * grid.optics.focus_nm)
             - 2.0 * math.pi * (xp.asarray(grid.kx_ap) * dx + xp.asarray(grid.ky_ap) * dy))
    if mask_phase is not None:
        mask = xp.gather_flat(xp.asarray(mask_phase), grid.aperture)
        phase = phase + xp.reshape(mask, (-1, grid.aperture.size))
    amplitude = xp.exp(-xp.asarray(grid.kz_sample_im_ap) * z)
    return xp.scatter_flat(xp.polar(amplitude, phase), grid.aperture_fft, grid.n)


def image_from_field(grid: PupilGrid, field: Any, *, blur_sigma_px: Any = None,
                     xp: str | Backend = "numpy"):
    """``|F^-1 field|^2`` on the camera grid ``(B, N, N)``, centred, unit energy, optionally
    blurred.

    Parameters
    ----------
    grid : PupilGrid
    field : complex array of shape (B, N, N)
        From :func:`pupil_field` (FFT order).
    blur_sigma_px : float or array of shape (B,), optional
        Gaussian blur per emitter, camera px (0: none).
    xp : {"numpy", "tensorflow"} or Backend
    """
    xp = backend(xp)
    intensity = xp.abs2(xp.ifft2(field))  # x = 0 at index 0
    intensity = intensity / xp.sum_image(intensity)
    if blur_sigma_px is not None:
        sigma = _column(xp, blur_sigma_px)
        otf = xp.exp(-2.0 * math.pi ** 2 * sigma ** 2 * xp.asarray(grid.freq2_r))
        intensity = xp.irfft2(xp.rfft2(intensity) * xp.to_complex(otf), grid.n)
    return xp.fftshift(intensity)


def crop_centre(images: Any, size_px: tuple[int, int], centre: int):
    """Rows and columns ``centre - s // 2 ...`` of ``(B, N, N)`` images: the reference
    pixel lands at ``(h // 2, w // 2)``."""
    h, w = size_px
    return images[:, centre - h // 2: centre - h // 2 + h, centre - w // 2: centre - w // 2 + w]


def check_window(grid: PupilGrid, size_px: tuple[int, int]) -> tuple[int, int]:
    """``size_px`` as ``(h, w)``, refused when larger than the pupil grid.

    Raises
    ------
    InputError
        A window edge below 1 or above ``N``.
    """
    h, w = (size_px, size_px) if isinstance(size_px, int) else tuple(size_px)
    if not (1 <= h <= grid.n and 1 <= w <= grid.n):
        raise InputError(f"a PSF window of {h}x{w} px does not fit the pupil grid's "
                         f"{grid.n}x{grid.n} px field", param="size_px", flag="--size",
                         hint=f"give {{flag}} at most {grid.n}, or a smaller SLM pixel "
                              "(a larger grid)")
    return int(h), int(w)


def check_shift_field(grid: PupilGrid, shape: tuple[int, int]) -> None:
    """Refuse frames too large to render by shifting PSFs across the pupil grid's
    periodic ``N x N`` field (mask learning): at most ``(N - 1) // 2`` px a side, so no
    emitter's light in the frame wraps round.

    Raises
    ------
    InputError
        A side above ``(N - 1) // 2`` px.
    """
    largest = (grid.n - 1) // 2
    if max(int(v) for v in shape[:2]) > largest:
        raise InputError(f"mask learning renders frames of at most {largest} px across on "
                         f"this optics' {grid.n}x{grid.n} pupil grid, the patches are "
                         f"{shape[0]}x{shape[1]} px", param="patch_size_px",
                         hint="make patches with a smaller --patch-size, or a PSF file with "
                              "a smaller --slm-pixel (a larger grid)")


def psf_images(grid: PupilGrid, *, dx_px: Any = 0.0, dy_px: Any = 0.0, z_nm: Any = 0.0,
               mask_phase: Any = None, blur_sigma_px: Any = None,
               size_px: int | tuple[int, int] | None = None, xp: str | Backend = "numpy"):
    """PSF images ``(B, h, w)`` of ``B`` emitters, each around its reference pixel.

    Each image sums to 1 over the full ``N x N`` field before the crop, so a crop holds
    the fraction of the light that falls inside it. Parameters as :func:`pupil_field`
    and :func:`image_from_field`; ``size_px`` (default: the full grid) is the window,
    with the reference pixel at ``(h // 2, w // 2)``.

    Examples
    --------
    >>> from smlmscale.psf.optics import OpticsSettings, pupil_grid
    >>> g = pupil_grid(OpticsSettings(slm_pixel_um=60))
    >>> img = psf_images(g, z_nm=[1200.0, 1500.0], size_px=15)
    >>> img.shape, round(float(psf_images(g).sum()), 6), bool(img[0].sum() < 1)
    ((2, 15, 15), 1.0, True)
    """
    xp = backend(xp)
    field = pupil_field(grid, dx_px=dx_px, dy_px=dy_px, z_nm=z_nm, mask_phase=mask_phase,
                        xp=xp)
    images = image_from_field(grid, field, blur_sigma_px=blur_sigma_px, xp=xp)
    if size_px is None:
        return images
    return crop_centre(images, check_window(grid, size_px), grid.centre)


__all__ = ["check_shift_field", "check_window", "crop_centre", "image_from_field", "psf_images",
           "pupil_field"]
