"""Settings of the simulators: frozen dataclasses, checked on construction.

One :class:`MovieSettings` describes a whole simulated movie; its parts group
the model's parameters by stage (emitter sites, active emitters and blinking,
photon counts in :mod:`~smlmscale.simulate.sample`; PSF, background, camera,
spectral channel in :mod:`~smlmscale.simulate.instrument`). Every value has a
documented default, so ``MovieSettings()`` is a valid small movie.
:class:`SectionSettings` describes a serial-section stack
(:mod:`smlmscale.simulate.sections`).

They are :class:`~smlmscale.settings.Settings`: each field carries its help, unit
and limits; :meth:`~smlmscale.settings.Settings.from_mapping` builds them from a
``--params`` YAML mapping and :meth:`~smlmscale.settings.Settings.to_mapping`
writes them back. Invalid values raise :class:`~smlmscale.errors.InputError`
naming the parameter by its YAML key (``psf.sigma_nm_range``), so the same checks
serve the command line, the ``--params`` file and library callers.

The settings are hashable: workers cache what is derived once per movie (the
emitter sites, the background and read-noise maps) keyed by them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import erf

from smlmscale.errors import InputError
from smlmscale.settings import setting
from smlmscale.simulate._checks import SimulationSettings, check_range
from smlmscale.simulate.instrument import (BackgroundSettings, CameraSettings, PsfSettings,
                                           SpectralSettings)
from smlmscale.simulate.sample import (BLOCK_FRAMES, PHOTON_DISTRIBUTIONS, STRUCTURES,
                                       EmitterSettings, PhotonSettings, StructureSettings)

DTYPES = ("uint8", "uint16", "uint32", "float32")
#: Section-stack spots are truncated at this many standard deviations (mass renormalized).
SPOT_TRUNCATE_SIGMA = 4.0


@dataclass(frozen=True)
class MovieSettings(SimulationSettings):
    """Everything that defines a simulated movie; the same settings give the same movie.

    ``size_px`` is ``(height, width)``; an int is a square. ``chunk_frames`` (frames
    per Zarr chunk and per Dask task) does not change the movie; by default a chunk
    holds about 16 MiB, 16-256 frames (:attr:`chunk_frames_or_default`). Each field's
    help, unit and limits are in its :func:`~smlmscale.settings.setting`; the parts
    are described by their classes.
    """

    frames: int = setting(1000, min=1, help="Frames")
    size_px: tuple[int, int] = setting(
        (256, 256), min=1, unit="px", default_text="256",
        help="Frame edge (a parameter file may give [height, width])")
    pixel_size_nm: float = setting(100.0, min=0, min_open=True, unit="nm",
                                   help="Camera pixel size in the sample plane")
    seed: int = setting(0, min=0, help="Seed of every random draw")
    chunk_frames: int | None = setting(None, min=1, default_text="about 16 MiB, 16-256 frames",
                                       help="Frames per chunk and task")
    dtype: str = setting("uint16", choices=DTYPES, help="Pixel type of the movie")
    structure: StructureSettings = setting(default_factory=StructureSettings,
                                           help="Emitter sites")
    emitters: EmitterSettings = setting(default_factory=EmitterSettings,
                                        help="Active emitters and blinking")
    photons: PhotonSettings = setting(default_factory=PhotonSettings,
                                      help="Photons per emitter and frame")
    psf: PsfSettings = setting(default_factory=PsfSettings, help="Point-spread function")
    background: BackgroundSettings = setting(default_factory=BackgroundSettings,
                                             help="Background photons")
    camera: CameraSettings = setting(default_factory=CameraSettings, help="Camera")
    spectral: SpectralSettings = setting(default_factory=SpectralSettings,
                                         help="Spectral channel")

    def __post_init__(self) -> None:
        object.__setattr__(self, "size_px", _frame_size(self.size_px))
        super().__post_init__()
        if self.emitters.per_frame_range is not None and \
                self.emitters.per_frame_range[1] > self.n_sites:
            raise InputError(f"emitters.per_frame_range asks for up to "
                             f"{self.emitters.per_frame_range[1]} emitters in a frame but there "
                             f"are only {self.n_sites} sites", hint="raise structure.n_sites")
        if self.spectral.enabled and self.psf.from_file:
            raise InputError("the spectral channel needs a Gaussian or astigmatic PSF, not a "
                             "PSF file", hint="drop --spectral or --psf FILE")
        height, width = self.field_px
        if width <= 0:
            raise InputError(
                f"the spectral channel leaves no room for emitters: width {self.size_px[1]} px "
                f"<= spectral.offset_px + spectral.box_width_px "
                f"({self.spectral.offset_px:g} + {self.spectral.box_width_px})",
                hint="use a larger --size or a smaller spectral offset")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *,
                     source: str | os.PathLike | None = None) -> MovieSettings:
        """Settings from a nested mapping; a part left empty (``psf:``) keeps its defaults.

        With a PSF file (``psf: {file: ...}``), ``psf.model`` is ``file`` and the pixel
        size and z range default to the file's
        (:func:`~smlmscale.simulate.psf_file.psf_file_defaults`). See
        :meth:`smlmscale.settings.Settings.from_mapping`.
        """
        from smlmscale.simulate.psf_file import psf_file_defaults

        parts = {"structure", "emitters", "photons", "psf", "background", "camera", "spectral"}
        data = {k: v for k, v in (data or {}).items() if not (k in parts and v is None)}
        return super().from_mapping(psf_file_defaults(data), source=source)

    @property
    def height_px(self) -> int:
        return self.size_px[0]

    @property
    def width_px(self) -> int:
        return self.size_px[1]

    @property
    def field_px(self) -> tuple[int, float]:
        """``(height, width)`` in px of the region where emitter sites lie."""
        width = float(self.size_px[1])
        if self.spectral.enabled:
            width -= self.spectral.offset_px + self.spectral.box_width_px
        return self.size_px[0], width

    @property
    def field_area_um2(self) -> float:
        """Area of the emitter field in um^2."""
        height, width = self.field_px
        return height * width * (self.pixel_size_nm / 1000.0) ** 2

    @property
    def mean_active(self) -> float:
        """Mean number of active emitters per frame."""
        if self.emitters.per_frame_range is not None:
            low, high = self.emitters.per_frame_range
            return 0.5 * (low + high)
        return self.emitters.density_per_um2 * self.field_area_um2

    @property
    def n_sites(self) -> int:
        """Number of fluorophore sites (``structure.n_sites`` or its default)."""
        if self.structure.n_sites is not None:
            return self.structure.n_sites
        busiest = self.mean_active
        if self.emitters.per_frame_range is not None:
            busiest = self.emitters.per_frame_range[1]
        return max(1000, int(math.ceil(round(100 * busiest, 6))))

    @property
    def chunk_frames_or_default(self) -> int:
        """Frames per chunk: ``chunk_frames`` or about 16 MiB of pixels, 16-256 frames."""
        if self.chunk_frames is not None:
            return min(self.chunk_frames, self.frames)
        frame_bytes = self.size_px[0] * self.size_px[1] * np.dtype(self.dtype).itemsize
        return min(self.frames, max(16, min(256, (16 * 2**20) // frame_bytes)))


def _frame_size(size: Any) -> Any:
    """``n`` or ``[n]`` -> ``(n, n)``; ``[h, w]`` as a tuple (checked by the field)."""
    if isinstance(size, (list, tuple)) and len(size) == 1:
        size = size[0]
    if not isinstance(size, (list, tuple, np.ndarray)):
        return (size, size)
    if len(size) != 2:
        raise InputError(f"size_px must be an integer or [height, width], got {size!r}",
                         param="size_px")
    return tuple(size)


@dataclass(frozen=True)
class SectionSettings(SimulationSettings):
    """What section stack to simulate (built by the CLI from ``simulate --kind sections``).

    The default 155 nm pixel is a usual camera pixel (100x objective) and 8-15 times
    the localization precision: a synapse covers a few pixels holding tens of
    localizations each, so count targets are dense and saturation erases the
    intensity gradient inside clusters, and 300 synapses in the 159 um field rarely
    share a tile. The seed renders its STORM-tiffs at 1/10 of the camera pixel
    (``storm_image_scale = 10``) with 72 px tiles: 15.5 nm gives that geometry
    (tiles then default to 64 px); there a cluster pixel holds far fewer
    localizations, so saturation (floored at two lone-localization peaks, see
    :attr:`saturation_level`) clips only the densest clusters. Each field's help,
    unit and limits are in its :func:`~smlmscale.settings.setting`.
    """

    n_sections: int = setting(40, min=1, help="Sections (z planes)")
    section_thickness_nm: float = setting(70.0, min=0, min_open=True, unit="nm",
                                          help="Section thickness (ultrathin serial section)")
    n_clusters: int = setting(300, min=0, help="Synapse-like clusters")
    size_px: int = setting(1024, min=8, unit="px", help="Edge of each square section image")
    pixel_size_nm: float = setting(155.0, min=0, min_open=True, unit="nm",
                                   help="Rendered STORM-tiff pixel")
    seed: int = setting(0, min=0, help="Seed of the random generator")
    cluster_diameter_nm: tuple[float, float] = setting(
        (200.0, 800.0), min=0, min_open=True, unit="nm",
        help="Range of each principal diameter of the ellipsoids (synaptic protein clusters)")
    locs_per_cluster: tuple[int, int] = setting(
        (50, 500), min=1, help="Inclusive range of localizations per cluster")
    precision_nm: tuple[float, float] = setting(
        (10.0, 20.0), min=0, min_open=True, unit="nm",
        help="Range of the lateral localization precision (Gaussian sigma; STORM, Alexa 647)")
    background_per_um2: float = setting(
        0.02, min=0, unit="1/um^2", help="Non-specific localizations per um^2 per section")
    saturation_per_um2: float | None = setting(
        120.0, min=0, min_open=True, unit="1/um^2",
        help="Saturation level as localizations per um^2 (none: no saturation)")
    roi_size_px: int | None = setting(None, min=1, unit="px", default_text="tile_size_px",
                                      help="ROI tile edge")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("cluster_diameter_nm", "locs_per_cluster", "precision_nm"):
            check_range(self, name)
        if self.n_clusters == 0 and self.background_per_um2 == 0:
            raise InputError("nothing to simulate: no clusters and no background",
                             hint="ask for at least one cluster")
        needed = math.ceil(self.max_footprint_nm / self.pixel_size_nm) + 2
        if self.roi_size_px is not None and self.roi_size_px < needed:
            raise InputError(f"ROI tiles of {self.roi_size_px} px cannot hold a cluster "
                             f"({needed} px at {self.pixel_size_nm:g} nm per pixel)",
                             hint=f"use a tile size of at least {needed} px")
        if self.tile_size_px > self.size_px:
            raise InputError(f"the {self.size_px} px image is smaller than one ROI tile "
                             f"({self.tile_size_px} px)", hint="use a larger image size")

    @property
    def max_footprint_nm(self) -> float:
        """Largest lateral extent of one cluster's localizations in nm (diameter + jitter)."""
        return self.cluster_diameter_nm[1] + 2 * SPOT_TRUNCATE_SIGMA * self.precision_nm[1]

    @property
    def tile_size_px(self) -> int:
        """ROI tile edge in px: ``roi_size_px``, or the smallest multiple of 8 (at least 32,
        a network-friendly patch) that holds the largest cluster footprint."""
        if self.roi_size_px is not None:
            return self.roi_size_px
        needed = math.ceil(self.max_footprint_nm / self.pixel_size_nm) + 2
        return max(32, 8 * math.ceil(needed / 8))

    @property
    def saturation_level(self) -> float | None:
        """Saturation level in image units (localizations per pixel), or ``None``.

        ``saturation_per_um2`` over the pixel area, but never below twice the
        peak pixel of one lone localization (precision at the low end of
        ``precision_nm``, centred in a pixel): a lone localization never clips,
        whatever the pixel size. At 155 nm pixels the density term decides
        (2.88 against 2 x 1.00); at the seed's 15.5 nm pixels the floor does
        (2 x 0.32).
        """
        if self.saturation_per_um2 is None:
            return None
        half_pixel = self.pixel_size_nm / (2 * np.sqrt(2) * self.precision_nm[0])
        lone_peak = float(erf(half_pixel)) ** 2
        return max(self.saturation_per_um2 * (self.pixel_size_nm / 1000.0) ** 2, 2 * lone_peak)

    @property
    def image_width_nm(self) -> float:
        """Lateral edge of the volume in nm."""
        return self.size_px * self.pixel_size_nm

    @property
    def depth_nm(self) -> float:
        """Axial extent of the volume in nm."""
        return self.n_sections * self.section_thickness_nm


__all__ = ["BLOCK_FRAMES", "BackgroundSettings", "CameraSettings", "DTYPES", "EmitterSettings",
           "MovieSettings", "PHOTON_DISTRIBUTIONS", "PhotonSettings", "PsfSettings",
           "STRUCTURES", "SectionSettings", "SpectralSettings", "StructureSettings"]
