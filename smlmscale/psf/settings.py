"""Settings of the PSF files ``smlmscale psf`` makes: the z grid and window of a pupil
model (:class:`PsfGridSettings`), its phase mask (:class:`MaskSettings`), and a measured
bead's (:class:`BeadSettings`). The optics are
:class:`~smlmscale.psf.optics.OpticsSettings`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from smlmscale.errors import InputError
from smlmscale.psf.zernike import BUILTIN_MASKS
from smlmscale.settings import Settings, setting


class _PsfImages(Settings):
    """Settings of stored PSF images: the window must be odd (the emitter's pixel is its
    centre) when given."""

    def __post_init__(self) -> None:
        super().__post_init__()
        size = self.size_px
        if size is not None and size % 2 == 0:
            raise InputError(f"{{flag}} must be odd (the emitter's pixel is the centre), "
                             f"got {size}", param="size_px", flag="--size")


def _blur_range(default: tuple[float, float]):
    return setting(default, min=0, ordered=True, unit="px", flag="--blur-range",
                   help="Per-emitter Gaussian blur range (the seed's blur_std_range)")


def z_grid(z_range_nm: tuple[float, float], z_step_nm: float) -> np.ndarray:
    """``min, min + step, ...`` up to ``max`` (inclusive where the step divides the range).

    >>> z_grid((0.0, 100.0), 25.0).tolist()
    [0.0, 25.0, 50.0, 75.0, 100.0]
    """
    lo, hi = z_range_nm
    n = int(math.floor((hi - lo) / z_step_nm + 1e-9)) + 1
    return lo + z_step_nm * np.arange(n, dtype=np.float64)


@dataclass(frozen=True)
class PsfGridSettings(_PsfImages):
    """Where a pupil model's stored images lie.

    Attributes
    ----------
    z_range_nm : (float, float)
        Emitter depths above the coverslip covered by the file, nm [zmin, zmax].
    z_step_nm : float
        Spacing of the stored images, nm.
    size_px : int
        Edge of the stored images and default spot window, px (odd).
    blur_sigma_px_range : (float, float)
        Per-emitter Gaussian blur drawn by the simulator, px [blur_std_range].
    """

    z_range_nm: tuple[float, float] = setting((0.0, 4000.0), unit="nm", ordered=True,
                                              help="Depths above the coverslip covered")
    z_step_nm: float = setting(25.0, min=0, min_open=True, unit="nm",
                               help="Spacing of the stored PSF images")
    size_px: int = setting(61, min=3, unit="px", help="Edge of the stored PSF images (odd)")
    blur_sigma_px_range: tuple[float, float] = _blur_range((0.99, 1.01))

    @property
    def z_nm(self) -> np.ndarray:
        """The z grid, nm."""
        return z_grid(self.z_range_nm, self.z_step_nm)


@dataclass(frozen=True)
class MaskSettings(Settings):
    """A pupil model's phase mask: a file, a built-in mask and Zernike terms, added.

    Attributes
    ----------
    mask : str, optional
        Phase-mask file (radians per SLM pixel): ``.mat``, ``.npy``, ``.npz``, ``.tif``.
    mask_key : str, optional
        The variable of a ``.mat``/``.npz`` file holding several.
    builtin : str, optional
        ``astigmatism`` or ``tetrapod`` (:data:`~smlmscale.psf.zernike.BUILTIN_MASKS`).
    zernike : tuple of (int, float), optional
        ``(Noll index, radians RMS)`` terms on the unit pupil.
    """

    mask: str | None = setting(None, help="Phase-mask file (.mat, .npy, .npz, .tif), radians")
    mask_key: str | None = setting(None, help="Variable of a .mat/.npz file with several")
    builtin: str | None = setting(None, choices=tuple(BUILTIN_MASKS),
                                  help="Built-in mask: " + " or ".join(BUILTIN_MASKS))
    zernike: tuple[tuple[int, float], ...] = setting(
        (), help="Zernike terms NOLL:RADIANS,... (RMS, Noll indexing, unit pupil)")

    @property
    def source(self) -> str:
        """``"file"``, ``"builtin"``, ``"zernike"``, several joined by ``+``, or ``"none"``."""
        parts = [name for name, given in (("file", self.mask), ("builtin", self.builtin),
                                          ("zernike", self.zernike)) if given]
        return "+".join(parts) or "none"


@dataclass(frozen=True)
class BeadSettings(_PsfImages):
    """How a measured bead z-stack becomes a PSF file.

    Attributes
    ----------
    pixel_size_nm : float, optional
        Camera pixel in the sample plane, nm; default the TIFF's metadata.
    z_step_nm : float
        Spacing of the stored images, nm.
    bead_step_nm : float, optional
        Spacing of the stack's slices, nm; default ``z_step_nm``. Slice ``k`` lies at
        ``z = k * bead_step_nm``.
    z_range_nm : (float, float), optional
        The part of the stack to keep, nm; default all of it.
    size_px : int, optional
        Edge of the stored images, px (odd); default the largest window around the bead
        inside the stack, at most 61.
    min_snr : float
        How far the bead must stand above the background noise.
    blur_sigma_px_range : (float, float)
        Per-emitter Gaussian blur drawn by the simulator, px (a bead is already blurred).
    """

    pixel_size_nm: float | None = setting(None, min=0, min_open=True, unit="nm",
                                          default_text="the TIFF's metadata",
                                          help="Camera pixel size in the sample plane")
    z_step_nm: float = setting(50.0, min=0, min_open=True, unit="nm",
                               help="Spacing of the stored PSF images")
    bead_step_nm: float | None = setting(None, min=0, min_open=True, unit="nm",
                                         default_text="--z-step",
                                         help="Spacing of the bead stack's slices")
    z_range_nm: tuple[float, float] | None = setting(None, min=0, unit="nm", ordered=True,
                                                     default_text="the whole stack",
                                                     help="Part of the stack to keep")
    size_px: int | None = setting(None, min=3, unit="px", default_text="up to 61",
                                  help="Edge of the stored PSF images (odd)")
    min_snr: float = setting(10.0, min=0, help="Bead peak over the background noise, at least")
    blur_sigma_px_range: tuple[float, float] = _blur_range((0.0, 0.0))

    @property
    def stack_step_nm(self) -> float:
        """The stack's slice spacing, nm."""
        return self.bead_step_nm if self.bead_step_nm is not None else self.z_step_nm


__all__ = ["BeadSettings", "MaskSettings", "PsfGridSettings", "z_grid"]
