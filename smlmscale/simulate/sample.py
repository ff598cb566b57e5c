"""Settings of the simulated sample: fluorophore sites, active emitters and blinking, photons.

Frozen :class:`~smlmscale.settings.Settings` dataclasses, checked on construction, like
those of :mod:`smlmscale.simulate.settings` (which re-exports them); errors name the
YAML key (``emitters.density_per_um2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from smlmscale.errors import InputError
from smlmscale.settings import setting
from smlmscale.simulate._checks import SimulationSettings, check_range

#: Frames per blinking block: on-runs are drawn per block, from (seed, block).
BLOCK_FRAMES = 256
STRUCTURES = ("uniform", "filaments", "clusters")
PHOTON_DISTRIBUTIONS = ("gamma", "uniform")


@dataclass(frozen=True)
class StructureSettings(SimulationSettings):
    """Where the fluorophore sites are.

    Uniform in the field; on microtubule-like worm-like chains (sites on a hollow
    tube of ``filament_radius_nm`` around the chain, plus label jitter); or in
    Gaussian clusters. ``n_sites`` defaults to 100 times the mean number of active
    emitters per frame (the maximum with ``emitters.per_frame_range``), at least
    1000, so two on-runs of one site rarely overlap. Each field's help, unit and
    limits are in its :func:`~smlmscale.settings.setting`.
    """

    settings_prefix: ClassVar[str] = "structure."

    kind: str = setting("uniform", choices=STRUCTURES, help="Where the sites are")
    n_sites: int | None = setting(None, min=1, default_text="100 x active per frame, >= 1000",
                                  help="Fluorophore sites")
    n_filaments: int | None = setting(None, min=1, default_text="1 per 3 um of field diagonal",
                                      help="Filaments")
    persistence_length_nm: float = setting(5000.0, min=0, min_open=True, unit="nm",
                                           help="Worm-like chain persistence length")
    filament_radius_nm: float = setting(
        25.0, min=0, unit="nm", help="Radius of the labelled tube around the chain "
                                     "(microtubule plus antibodies)")
    label_jitter_nm: float = setting(5.0, min=0, unit="nm",
                                     help="Isotropic Gaussian displacement of each label")
    n_clusters: int | None = setting(None, min=1, default_text="sites / cluster size",
                                     help="Clusters")
    cluster_size: float = setting(20.0, min=1, help="Mean sites per cluster")
    cluster_sigma_nm: float = setting(50.0, min=0, unit="nm",
                                      help="Gaussian spread of a cluster")


@dataclass(frozen=True)
class EmitterSettings(SimulationSettings):
    """How many emitters are on in a frame, and for how long.

    The count per frame is Poisson at ``density_per_um2`` (blinking is a stationary
    process); on-run lengths are geometric, truncated at ``on_frames_max``, with
    mean ``on_frames_mean`` (below ``(on_frames_max + 1) / 2``). With
    ``per_frame_range`` (Deep-STORM3D's ``num_particles_range``) each frame instead
    has a uniform number of emitters in [min, max], drawn from the sites without
    blinking correlations.
    """

    settings_prefix: ClassVar[str] = "emitters."

    density_per_um2: float = setting(1.0, min=0, min_open=True, unit="1/um^2",
                                     help="Active emitters per um^2 of the field per frame")
    per_frame_range: tuple[int, int] | None = setting(
        None, min=0, help="Independent frames with MIN..MAX emitters each (no blinking); "
                          "replaces the density")
    on_frames_mean: float = setting(4.0, min=1, unit="frames", help="Mean on-run length")
    on_frames_max: int = setting(64, min=1, max=BLOCK_FRAMES, unit="frames",
                                 help="Longest on-run")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "per_frame_range")
        if self.per_frame_range is not None and self.per_frame_range[1] < 1:
            raise InputError("emitters.per_frame_range must allow at least one emitter, got "
                             f"{list(self.per_frame_range)}")
        if self.on_frames_mean > self.on_frames_max:
            raise InputError(f"emitters.on_frames_mean must be at most {self.on_frames_max:g}"
                             f" (emitters.on_frames_max), got {self.on_frames_mean!r}")
        if self.on_frames_mean > 1 and self.on_frames_mean >= (self.on_frames_max + 1) / 2:
            raise InputError(
                f"emitters.on_frames_mean {self.on_frames_mean:g} needs a longer on_frames_max "
                f"(the mean of runs truncated at {self.on_frames_max} frames stays below "
                f"{(self.on_frames_max + 1) / 2:g})",
                hint=f"set emitters.on_frames_max above {2 * self.on_frames_mean - 1:g}")


@dataclass(frozen=True)
class PhotonSettings(SimulationSettings):
    """Photons of an active emitter in a frame (reaching the camera, before QE).

    Emitters below ``threshold`` are rendered but flagged ``detectable = 0`` in the
    truth (see :mod:`smlmscale.simulate`).
    """

    settings_prefix: ClassVar[str] = "photons."

    distribution: str = setting("gamma", choices=PHOTON_DISTRIBUTIONS,
                                help="Photon distribution")
    gamma_shape: float = setting(4.0, min=0, min_open=True, help="Gamma shape")
    gamma_scale: float = setting(500.0, min=0, min_open=True, unit="photons",
                                 help="Gamma scale")
    uniform_range: tuple[float, float] = setting(
        (1000.0, 5000.0), min=0, unit="photons", help="MIN MAX of the uniform distribution")
    threshold: float = setting(0.0, min=0, unit="photons",
                               help="Detection threshold (dimmer emitters are rendered but "
                                    "flagged detectable=0)")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "uniform_range")

    @property
    def mean(self) -> float:
        """Mean photons of one emitter in one frame."""
        if self.distribution == "gamma":
            return self.gamma_shape * self.gamma_scale
        return 0.5 * (self.uniform_range[0] + self.uniform_range[1])


__all__ = ["BLOCK_FRAMES", "EmitterSettings", "PHOTON_DISTRIBUTIONS", "PhotonSettings",
           "STRUCTURES", "StructureSettings"]
