"""Settings of the simulated instrument: PSF, background, camera, spectral channel.

Frozen :class:`~smlmscale.settings.Settings` dataclasses, checked on construction, like
those of :mod:`smlmscale.simulate.settings` (which re-exports them); errors name the
YAML key (``psf.sigma_nm_range``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import ClassVar

from smlmscale.errors import InputError
from smlmscale.settings import setting
from smlmscale.simulate._checks import SimulationSettings, check_range

#: ``psf.model``: built-in Gaussians, or a PSF file (``psf.file``, made by ``smlmscale psf``).
PSF_MODELS = ("gaussian", "astigmatic", "file")


@dataclass(frozen=True)
class PsfSettings(SimulationSettings):
    """The point-spread function: a pixel-integrated Gaussian, optionally astigmatic, or
    the model of a PSF file.

    The astigmatic widths follow the defocus curve ``sigma_x = sigma sqrt(1 + u^2 + a u^3
    + b u^4)``, ``u = (z - c) / d`` (``sigma_y``: ``z + c``), of
    :func:`~smlmscale.simulate.psf.defocus_factor`. With ``model: file`` the spots are
    rendered by the model of ``file`` (:func:`smlmscale.psf.load_psf`: a pupil model with
    its phase mask, or a measured bead), each blurred by a Gaussian drawn per site from the
    file's ``blur_sigma_px_range`` (the seed's ``blur_std_range``; ``sigma_nm_range`` is
    not used); ``z_range_nm`` must lie inside the file's z range and the movie's pixel must
    be the file's (:func:`smlmscale.simulate.psf_file.check_psf_file`). ``file`` is made
    absolute. Each field's help, unit and limits are in its
    :func:`~smlmscale.settings.setting`.
    """

    settings_prefix: ClassVar[str] = "psf."

    model: str = setting("gaussian", choices=PSF_MODELS,
                         help="PSF model: gaussian, astigmatic, or a PSF file (FILE.zarr)")
    file: str | None = setting(None, default_text="none",
                               help="PSF file (smlmscale psf) of model: file")
    sigma_nm_range: tuple[float, float] = setting(
        (120.0, 150.0), min=1e-3, unit="nm",
        help="In-focus PSF sigma of a site, uniform in MIN MAX (finite emitter size)")
    z_range_nm: tuple[float, float] = setting(
        (-600.0, 600.0), unit="nm",
        help="Axial range of the sites, with --psf astigmatic or a PSF file (default there: "
             "the file's)")
    focal_offset_nm: float = setting(300.0, unit="nm",
                                     help="c: x is in focus at z = +c, y at z = -c")
    depth_of_focus_nm: float = setting(450.0, min=0, min_open=True, unit="nm",
                                       help="d of the defocus curve")
    astig_a: float = setting(0.0, help="Cubic term of the defocus curve")
    astig_b: float = setting(0.0, min=0, help="Quartic term of the defocus curve")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "sigma_nm_range")
        check_range(self, "z_range_nm", strict=True)
        if (self.model == "file") != (self.file is not None):
            raise InputError("psf.model: file and psf.file go together, got model "
                             f"{self.model!r} and file {self.file!r}", param="file",
                             hint="give the PSF file as --psf FILE.zarr")
        if self.file is not None:
            object.__setattr__(self, "file", os.path.abspath(os.fspath(self.file)))

    @property
    def is_3d(self) -> bool:
        """Whether emitters have a z (astigmatic and PSF-file models)."""
        return self.model in ("astigmatic", "file")

    @property
    def from_file(self) -> bool:
        """Whether the spots come from a PSF file."""
        return self.model == "file"

    @property
    def label(self) -> str:
        """``"gaussian PSF"``, ``"astigmatic PSF"`` or ``"PSF file NAME"``, for summaries."""
        return f"PSF file {os.path.basename(self.file)}" if self.from_file \
            else f"{self.model} PSF"


@dataclass(frozen=True)
class BackgroundSettings(SimulationSettings):
    """Background photons per pixel and frame: uniform plus an optional super-Gaussian.

    The non-uniform part is ``nonuniform_photons * g(y, x)`` with
    ``g = exp(-q**order / 2)``, ``q = (u / w_u)**2 + (v / w_v)**2`` in axes rotated
    by theta about a centre shifted from the field centre; it peaks at 1. Centre
    shift, angle and widths are drawn once per movie from the seed, or for every frame
    with ``nonuniform_per_frame`` (Deep-STORM3D's ``nonunif_bg_*``, perturbed per
    training image); ``w`` is ``nonuniform_width_fraction`` of the field size, each width
    and the amplitude scaled by a uniform factor in [1, 1 + jitter] (the seed's 50 %).
    """

    settings_prefix: ClassVar[str] = "background."

    photons_per_px: float = setting(20.0, min=0, unit="photons/px",
                                    help="Uniform background per frame")
    nonuniform_photons: float = setting(0.0, min=0, unit="photons/px",
                                        help="Peak of the super-Gaussian background")
    nonuniform_width_fraction: float = setting(
        0.35, min=0, min_open=True, help="Super-Gaussian width, as a fraction of the field")
    nonuniform_order: float = setting(2.0, min=0, min_open=True,
                                      help="Super-Gaussian order (1 is a Gaussian)")
    nonuniform_offset_px: float = setting(10.0, min=0, unit="px",
                                          help="Largest shift of its centre in x and y")
    nonuniform_theta_range_rad: tuple[float, float] = setting(
        (-math.pi / 4, math.pi / 4), unit="rad", help="Range of its rotation")
    nonuniform_jitter: float = setting(
        0.5, min=0, help="Relative perturbation of its amplitude and widths")
    nonuniform_per_frame: bool = setting(
        False, help="Draw its centre, angle, widths and amplitude anew in every frame "
                    "(the seed's training images) instead of once per movie")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "nonuniform_theta_range_rad")


@dataclass(frozen=True)
class CameraSettings(SimulationSettings):
    """The camera: QE, EM gain, read noise, conversion to ADU, baseline.

    ``ADU = (gain_stage(Poisson(qe * photons)) + N(0, read_noise_e^2)) / e_per_adu
    + baseline_adu``, rounded and clipped to the output dtype (float32: neither).
    Above an ``em_gain`` of 1, the electrons after the gain register are
    Gamma(n, em_gain) for n photoelectrons (excess noise factor 2). With
    ``read_noise_max_e`` the read noise rises from ``read_noise_e`` at the edges to
    that value where the background super-Gaussian peaks (Deep-STORM3D's
    ``read_noise_nonunif`` and ``read_noise_std_range``). ``baseline_range_adu``
    draws the baseline of every frame uniformly in a range instead (the seed's
    ``read_noise_baseline_range``: what is left of it after subtracting the minimum
    frame). Without ``shot_noise`` the photoelectrons are their expectation
    ``qe * photons`` (times ``em_gain``): with no read noise and float32 pixels, the
    movie is the expected image, for checks.
    """

    settings_prefix: ClassVar[str] = "camera."

    qe: float = setting(0.9, min=0, min_open=True, max=1, help="Quantum efficiency")
    em_gain: float = setting(1.0, min=1, help="EMCCD gain; 1 = no EM stage")
    e_per_adu: float = setting(1.0, min=0, min_open=True, help="Electrons per ADU")
    baseline_adu: float = setting(100.0, min=0, unit="ADU", help="Camera offset")
    read_noise_e: float = setting(1.5, min=0, unit="e-", help="Read noise sigma")
    read_noise_max_e: float | None = setting(
        None, min=0, unit="e-", default_text="uniform",
        help="Non-uniform read noise: sigma at the field's centre")
    baseline_range_adu: tuple[float, float] | None = setting(
        None, min=0, unit="ADU", default_text="--baseline",
        help="A baseline per frame, uniform in MIN MAX (read_noise_baseline_range)")
    shot_noise: bool = setting(True, help="Poisson shot noise (off: the expected "
                                          "photoelectrons, for noise-free checks)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "baseline_range_adu")


@dataclass(frozen=True)
class SpectralSettings(SimulationSettings):
    """A spectral channel (spectral SMLM, seed 001): each emitter's dispersed spectrum.

    The spectrum of an emitter at ``(x, y)`` is imaged at the same ``y``, to the
    right: a Gaussian emission profile along x, centred at ``x + offset_px +
    peak``, with ``peak`` drawn per site from ``peak_range_px`` (its colour) and
    standard deviation ``width_px``, convolved with the emitter's PSF. So it is
    an elongated pixel-integrated Gaussian of widths ``sqrt(width_px^2 +
    sigma_x^2)`` along x and ``sigma_y`` along y, holding ``photon_ratio`` times
    the emitter's photons. The spectral box (``box_width_px`` wide) starts at
    ``x + offset_px``; emitters are placed only where their whole box fits in
    the frame, ``x < width - offset_px - box_width_px``.
    """

    settings_prefix: ClassVar[str] = "spectral."

    enabled: bool = setting(False, help="Add each emitter's dispersed spectrum")
    offset_px: float = setting(230.0, min=0, unit="px",
                               help="Emitter to spectral box distance (loc_sp_distance)")
    box_width_px: int = setting(48, min=1, unit="px", help="Width of the spectral box")
    peak_range_px: tuple[float, float] = setting(
        (16.0, 32.0), min=0, unit="px", help="Range of the spectral peak in the box")
    width_px: float = setting(5.0, min=0, unit="px",
                              help="Sigma of the emission profile along x")
    photon_ratio: float = setting(1.0, min=0, help="Spectrum photons / positional photons")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "peak_range_px")
