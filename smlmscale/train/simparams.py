"""``train --simulate PARAMS.yaml``: the ranges of the simulated training data (locnet).

:class:`SimTrainSettings` reads the YAML: the ranges each sample draws its parameters
from (uniformly; units in each field) and the fixed physics, which reuses the
simulator's own settings (:class:`~smlmscale.simulate.instrument.PsfSettings` and
:class:`~smlmscale.simulate.instrument.CameraSettings`, nested under ``psf:`` and
``camera:``). :meth:`SimTrainSettings.movie` turns one draw into the
:class:`~smlmscale.simulate.settings.MovieSettings` of a K-frame movie of one patch,
which :mod:`smlmscale.train.simulated` renders. :meth:`SimTrainSettings.attrs` gives
the attributes a ``frames`` patch set of such data would have (normalization, context,
head constants), so the model is built and recorded as for a patch set.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from smlmscale.errors import InputError
from smlmscale.patches.stacks import CONTEXTS, FramesSettings, target_channels
from smlmscale.patches.stacks_graph import PHOTON_HEADROOM
from smlmscale.settings import setting
from smlmscale.simulate._checks import SimulationSettings, check_range
from smlmscale.simulate.instrument import CameraSettings, PsfSettings
from smlmscale.simulate.settings import (BackgroundSettings, EmitterSettings, MovieSettings,
                                         PhotonSettings)

#: Standard deviations of the Poisson emitter count above its mean kept by the loss.
COUNT_SIGMAS = 5.0
#: Default range of a sample's mean on-run length, frames (``on_frames_mean``).
ON_FRAMES_MEAN = (3.0, 3.0)
_RANGES = ("density_per_um2", "photons", "background_photons_per_px", "sigma_nm",
           "on_frames_mean")


@dataclass(frozen=True)
class SimTrainSettings(SimulationSettings):
    """The simulated training data of ``train --simulate`` (one YAML mapping).

    Each sample draws ``density_per_um2`` and ``background_photons_per_px`` uniformly
    from their ranges; its emitters draw photons uniformly from ``photons`` and their
    in-focus PSF sigma from ``sigma_nm`` (the simulator's per-site draws). Blinking over
    the ``context`` frames and the camera noise are the simulator's.

    Attributes
    ----------
    density_per_um2 : (float, float)
        Active emitters per um^2 per frame, MIN MAX of a sample's density.
    photons : (float, float)
        Photons of an emitter in a frame (reaching the camera), MIN MAX.
    background_photons_per_px : (float, float)
        Uniform background of a sample, photons/px per frame, MIN MAX.
    sigma_nm : (float, float)
        In-focus PSF sigma of an emitter, nm, MIN MAX.
    psf : PsfSettings
        The PSF model (``astigmatic`` for 3D, with its ``z_range_nm``); its
        ``sigma_nm_range`` is replaced by ``sigma_nm``.
    camera : CameraSettings
        The fixed camera (QE, EM gain, e-/ADU, baseline, read noise).
    on_frames_mean : (float, float)
        Mean on-run length of the blinking, frames: MIN MAX of a sample's, or one number
        (a fixed mean; default 3). A range reaching down to 1 (every emitter on for one
        frame) was tried for the benchmark's model and not adopted: it was less accurate
        on movies of 4-frame runs and no better on movies of 1-frame runs
        (``benchmarks/RESULTS.md``, 2026-12-07).
    single_frame_share : float
        Share of the samples, in [0, 1], whose emitters are each on for one frame only
        (``on_frames_mean`` 1: the neighbouring frames hold other emitters, never the
        centre frame's). A K = 3 network trained on long runs alone trusts its
        neighbouring frames and is over-confident on movies of fast-blinking dyes;
        these samples teach it to localize from the centre frame where the context holds
        nothing of the same emitter. Default 0. Measured on the accuracy benchmark's
        training (``benchmarks/RESULTS.md``, 2026-12-07): 0.25 / 0.5 keep the z-score std
        on movies of one-frame blinking at most 1.18 / 1.22 (0: 1.55) and raise the
        Jaccard index there at 6 per um^2 from 0.836 to 0.848 / 0.860, but lower the
        precision on movies of 4-frame runs (RMSE at 0.5 per um^2 1.43x / 1.58x the CRLB
        against 1.26x). An annealed learning rate buys most of that precision back: 0.25
        trained 24 epochs with ``--lr-schedule anneal`` (what the accuracy benchmark
        trains) gives 1.26x there (share 0, 26 epochs of the plateau schedule: 1.19x) and
        a z-score std of at most 1.19 on the one-frame movies. Set it wherever the dyes
        may blink faster than about 2 frames.
    pixel_size_nm : float
        Camera pixel in the sample plane, nm.
    patch_size_px : int
        Side of a simulated sample, camera px (a multiple of locnet's pooling factor).
    context : {1, 3}
        Frames per input stack (K).
    validation_samples : int
        Samples of the fixed validation set (generated once per run).
    seed : int
        Seeds every sample (with its epoch, step and index) and the validation set.
    """

    settings_prefix: ClassVar[str] = ""

    density_per_um2: tuple[float, float] = setting((0.5, 6.0), min=0, min_open=True,
                                                   unit="1/um^2",
                                                   help="Active emitters per um^2, MIN MAX")
    photons: tuple[float, float] = setting((1000.0, 5000.0), min=0, unit="photons",
                                           help="Photons per emitter and frame, MIN MAX")
    background_photons_per_px: tuple[float, float] = setting(
        (10.0, 30.0), min=0, unit="photons/px", help="Uniform background, MIN MAX")
    sigma_nm: tuple[float, float] = setting((110.0, 150.0), min=1e-3, unit="nm",
                                            help="In-focus PSF sigma, MIN MAX")
    psf: PsfSettings = setting(default_factory=PsfSettings, help="PSF model")
    camera: CameraSettings = setting(default_factory=CameraSettings, help="Camera")
    on_frames_mean: tuple[float, float] = setting(ON_FRAMES_MEAN, min=1, unit="frames",
                                                  help="Mean on-run length, MIN MAX")
    single_frame_share: float = setting(0.0, min=0, max=1,
                                        help="Share of samples of one-frame blinking")
    pixel_size_nm: float = setting(100.0, min=0, min_open=True, unit="nm",
                                   help="Camera pixel size in the sample plane")
    patch_size_px: int = setting(32, min=8, unit="camera px", help="Side of a sample")
    context: int = setting(3, choices=CONTEXTS, help="Frames per input stack")
    validation_samples: int = setting(64, min=1, help="Samples of the validation set")
    seed: int = setting(0, min=0, help="Seeds the samples and the validation set")

    def __post_init__(self) -> None:
        if isinstance(self.on_frames_mean, (int, float)):     # one number: a fixed mean
            object.__setattr__(self, "on_frames_mean", (float(self.on_frames_mean),) * 2)
        super().__post_init__()
        for name in _RANGES:
            check_range(self, name)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> SimTrainSettings:
        """The settings of a YAML file; unknown keys and bad values are named.

        Raises
        ------
        InputError
            An unreadable file, no mapping, an unknown key or a refused value.
        """
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read the simulation parameters ({exc})",
                             path=path) from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError(f"the simulation parameters must be a mapping, got "
                             f"{type(data).__name__}", path=path)
        for part in ("psf", "camera"):
            if part in data and data[part] is None:
                del data[part]
        return cls.from_mapping(data, source=path)

    @property
    def is_3d(self) -> bool:
        return self.psf.is_3d

    @property
    def area_um2(self) -> float:
        """Area of one sample, um^2."""
        return (self.patch_size_px * self.pixel_size_nm / 1000.0) ** 2

    @property
    def max_emitters(self) -> int:
        """Emitters per sample the loss gathers: the top density's mean count plus
        :data:`COUNT_SIGMAS` Poisson standard deviations."""
        mean = self.density_per_um2[1] * self.area_um2
        return max(1, int(math.ceil(mean + COUNT_SIGMAS * math.sqrt(mean))))

    @property
    def photons_per_adu(self) -> float:
        return float(self.camera.e_per_adu / (self.camera.qe * self.camera.em_gain))

    @property
    def normalization(self) -> dict[str, Any]:
        """``x_norm = (ADU - baseline) / scale``: the scale is the ADU of the top photon
        count's peak pixel over the top background (a bright spot maps near 1)."""
        sigma_px = self.sigma_nm[0] / self.pixel_size_nm
        peak = self.photons[1] / (2 * math.pi * max(sigma_px, 0.5) ** 2)
        scale = (peak + self.background_photons_per_px[1]) / self.photons_per_adu
        return {"mode": "affine", "offset_adu": float(self.camera.baseline_adu),
                "scale_adu": float(max(scale, 1.0)), "photons_per_adu": self.photons_per_adu}

    def movie(self, rng: np.random.Generator, *, seed: int) -> MovieSettings:
        """The K-frame movie of one sample, its density and background drawn by ``rng``."""
        density = float(rng.uniform(*self.density_per_um2))
        background = float(rng.uniform(*self.background_photons_per_px))
        low, high = self.on_frames_mean     # a fixed mean draws nothing (same stream)
        on_frames = float(low if low == high else rng.uniform(low, high))
        if self.single_frame_share > 0 and rng.uniform() < self.single_frame_share:
            on_frames = 1.0                 # a share of 0 draws nothing (same stream)
        return MovieSettings(
            frames=self.context, size_px=(self.patch_size_px, self.patch_size_px),
            pixel_size_nm=self.pixel_size_nm, seed=seed, dtype="float32",
            emitters=EmitterSettings(density_per_um2=density,
                                     on_frames_mean=on_frames),
            photons=self._photon_settings, psf=self._psf_settings,
            background=BackgroundSettings(photons_per_px=background), camera=self.camera)

    @functools.cached_property
    def _photon_settings(self) -> PhotonSettings:
        """Every sample's photon distribution (built and checked once, not per sample)."""
        return PhotonSettings(distribution="uniform", uniform_range=self.photons)

    @functools.cached_property
    def _psf_settings(self) -> PsfSettings:
        """Every sample's PSF, its sigma range :attr:`sigma_nm`."""
        return self.psf.replace(sigma_nm_range=self.sigma_nm)

    def attrs(self) -> dict[str, Any]:
        """What a ``frames`` patch set of these data records (read by the model builder
        and written to the model folder)."""
        return {"generator": "frames", "source": "simulation", "upsampling": 1,
                "params": self.frames_settings().to_dict(),
                "pixel_size_nm": self.pixel_size_nm,
                "normalization": self.normalization, "context": self.context,
                "is_3d": self.is_3d,
                "z_range_nm": [float(v) for v in self.psf.z_range_nm] if self.is_3d else None,
                "channels": list(target_channels(self.is_3d)),
                "background_units": "photons/px", "max_emitters": self.max_emitters,
                "photon_scale": PHOTON_HEADROOM * self.photons[1],
                "simulation": self.to_mapping()}

    @functools.cached_property
    def _frames_settings(self) -> FramesSettings:
        norm = self.normalization
        return FramesSettings(patch_size_px=self.patch_size_px, context=self.context,
                              per_frame=1, max_emitters=self.max_emitters,
                              offset_adu=norm["offset_adu"], scale_adu=norm["scale_adu"],
                              seed=self.seed)

    def frames_settings(self) -> FramesSettings:
        """The ``frames`` generator's settings these samples follow (one patch per movie,
        the normalization given)."""
        return self._frames_settings

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.patch_size_px, self.patch_size_px, self.context)

    @property
    def target_shape(self) -> tuple[int, int, int]:
        return (self.patch_size_px, self.patch_size_px, len(target_channels(self.is_3d)))


def check_sim_model(model: str) -> None:
    """Refuse ``--simulate`` for a model that does not train on ``frames`` data."""
    from smlmscale.models.kinds import model_kind

    if "frames" not in model_kind(model).generators:
        raise InputError(f"--simulate makes locnet (frames) data, not {model} data",
                         hint="pass --model locnet, or train on a patch set")


__all__ = ["COUNT_SIGMAS", "SimTrainSettings", "check_sim_model"]
