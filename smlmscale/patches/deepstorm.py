"""Deep-STORM / DSIR training pairs: settings and kernels (NumPy in, NumPy out).

Where the patches go is decided from the table alone (:mod:`smlmscale.patches.plan`:
``per_frame`` seeded candidates per frame, kept with at least ``min_emitters``
emitters inside). For each kept patch:

- **Input**: the patch projected to ``[0, 1]`` per patch (``(p - min) / (max -
  min)``; a constant patch becomes 0), then upsampled ``upsampling`` times by
  pixel repetition (nearest), channel last: ``(H*u, W*u, 1)``.
- **Target**: a spike of weight 1 (or the emitter's photons) at each emitter's
  upsampled pixel ``floor(x_px * u) - c0 * u`` (``x_px = x_nm / pixel_size_nm``,
  pixel-corner origin), blurred by a Gaussian of ``target_sigma_px`` upsampled
  pixels: each spike adds the outer product of SciPy's normalized 1-D Gaussian
  kernel (truncate 4, radius ``int(4 sigma + 0.5)``) clipped at the patch edge,
  which equals :func:`scipy.ndimage.gaussian_filter` with ``mode="constant"``
  on the spike image (to float rounding) at a fraction of its cost. The target
  sums to the emitters' weights except for the tails that fall outside the patch.
  With ``z_bins = K`` (3D, Deep-STORM3D-style) the target has ``K`` channels and an
  emitter's spike goes to channel ``floor((z_nm - lo) / (hi - lo) * K)`` (clipped to
  ``0 .. K-1``) for ``z_range_nm = (lo, hi)``.

The projection and the Gaussian spikes are the shared kernels of
:mod:`smlmscale.kernels` (``predict`` normalizes frames with the same one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.kernels.gaussian import stamp_targets
from smlmscale.kernels.normalize import normalize_global, normalize_patches
from smlmscale.settings import Settings, setting

NORMALIZE = ("frame", "patch")
WEIGHTS = ("one", "photons")

#: The ``min_emitters`` field's checks and help (deepstorm keeps 1, summed 2).
MIN_EMITTERS = dict(min=0, help="Keep patches with at least this many emitters")


@dataclass(frozen=True)
class CandidateSettings(Settings):
    """Random patches and their spike targets, shared by ``deepstorm`` and ``summed``.

    Attributes
    ----------
    patch_size_px : int
        Side of a square patch, camera pixels (26 in DSIR).
    upsampling : int
        Upsampling factor of inputs and targets (8 in DSIR).
    per_frame : int
        Candidate patches drawn per frame.
    min_emitters : int
        Keep a candidate with at least this many emitters inside.
    target_sigma_px : float
        Gaussian sigma of the target, upsampled pixels (0: bare spikes).
    weight : {"one", "photons"}
        Spike weight.
    seed : int
        Seeds the patch positions, with the frame index.
    """

    settings_crossed_limit = True

    patch_size_px: int = setting(26, min=1, unit="camera px", help="Patch side")
    upsampling: int = setting(8, min=1, help="Upsampling factor")
    per_frame: int = setting(4, min=1, help="Candidate patches per frame")
    min_emitters: int = setting(1, **MIN_EMITTERS)
    target_sigma_px: float = setting(1.0, min=0, unit="upsampled px",
                                     help="Gaussian sigma of the target")
    weight: str = setting("one", choices=WEIGHTS, help="Spike weight: one or photons",
                          message="unknown weight {value}; use one or photons")
    seed: int = setting(0, min=0, help="Seeds positions, shifts, bins and the split")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(H*u, W*u, 1)``."""
        side = self.patch_size_px * self.upsampling
        return (side, side, 1)

    @property
    def target_shape(self) -> tuple[int, int, int]:
        """``(H*u, W*u, 1)``."""
        return self.input_shape

    @property
    def member_columns(self) -> tuple[str, ...]:
        """Table columns the targets need beyond ``x_nm``, ``y_nm``."""
        return ("photons",) if self.weight == "photons" else ()

    def to_dict(self) -> dict[str, Any]:
        return self.to_mapping()


@dataclass(frozen=True)
class DeepstormSettings(CandidateSettings):
    """Parameters of the ``deepstorm`` generator (units in the names; px = camera pixels).

    Attributes
    ----------
    patch_size_px, upsampling, per_frame, min_emitters, target_sigma_px, weight, seed
        As :class:`CandidateSettings`.
    z_bins : int
        Target channels along z (0: 2D, one channel, z ignored).
    z_range_nm : tuple of float
        ``(lo, hi)`` z range split into ``z_bins`` bins, nm.
    normalize : {"frame", "patch"}
        Project each whole frame to ``[0, 1]`` before cutting its patches (Deep-STORM and
        ZeroCostDL4Mic; ``predict`` normalizes whole frames the same way), or each patch.
    """

    z_bins: int = setting(0, min=0, help="deepstorm 3D: target channels along z",
                          default_text="0: 2D")
    z_range_nm: tuple[float, float] = setting((-500.0, 500.0), unit="nm",
                                              help="LOW:HIGH z range of the --z-bins or voxels")
    normalize: str = setting("frame", choices=NORMALIZE,
                             help="Inputs projected to [0, 1] per frame (as predict does) "
                                  "or per patch (deepstorm3d: or global, by "
                                  "--global-factors)")

    def __post_init__(self) -> None:
        super().__post_init__()
        lo, hi = self.z_range_nm
        if self.z_bins and not hi > lo:
            raise InputError(f"{{flag}} must go from low to high, got {lo:g}:{hi:g}",
                             param="z_range_nm", flag="--z-range")

    @property
    def target_shape(self) -> tuple[int, int, int]:
        """``(H*u, W*u, max(1, z_bins))``."""
        side = self.patch_size_px * self.upsampling
        return (side, side, max(1, self.z_bins))

    @property
    def member_columns(self) -> tuple[str, ...]:
        """Table columns the targets need beyond ``x_nm``, ``y_nm``."""
        return super().member_columns + (("z_nm",) if self.z_bins else ())


def upsample_nearest(patch: np.ndarray, factor: int) -> np.ndarray:
    """``(..., H, W)`` -> ``(..., H*factor, W*factor)`` by repeating each pixel."""
    return np.repeat(np.repeat(patch, factor, axis=-2), factor, axis=-1)


def cut_patches(block: np.ndarray, frames: np.ndarray, rows0: np.ndarray, cols0: np.ndarray,
                size: int) -> np.ndarray:
    """Patches ``(k, size, size)`` at ``block[frames, r0:r0+size, c0:c0+size]`` (fancy index)."""
    r = np.asarray(rows0)[:, None, None] + np.arange(size)[None, :, None]
    c = np.asarray(cols0)[:, None, None] + np.arange(size)[None, None, :]
    return block[np.asarray(frames)[:, None, None], r, c]


def spike_pixels(members: pd.DataFrame, corners: pd.DataFrame, *, upsampling: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Upsampled ``(rows, cols)`` of member spikes relative to their patch corners.

    ``members`` has ``patch`` (index into ``corners``), ``x_px``, ``y_px``; ``corners``
    has ``row0``, ``col0``.
    """
    which = members["patch"].to_numpy()
    rows = (np.floor(members["y_px"].to_numpy(np.float64) * upsampling).astype(np.int64)
            - corners["row0"].to_numpy()[which] * upsampling)
    cols = (np.floor(members["x_px"].to_numpy(np.float64) * upsampling).astype(np.int64)
            - corners["col0"].to_numpy()[which] * upsampling)
    return rows, cols


def member_targets(members: pd.DataFrame, corners: pd.DataFrame, *, n: int,
                   settings: DeepstormSettings) -> np.ndarray:
    """The targets of ``n`` patches from their members (see the module docstring)."""
    rows, cols = spike_pixels(members, corners, upsampling=settings.upsampling)
    weights = (members["photons"].to_numpy(np.float64) if settings.weight == "photons"
               else np.ones(len(members)))
    channels = None
    if settings.z_bins:
        lo, hi = settings.z_range_nm
        z = members["z_nm"].to_numpy(np.float64)
        channels = np.clip(np.floor((z - lo) / (hi - lo) * settings.z_bins), 0,
                           settings.z_bins - 1).astype(np.int64)
    return stamp_targets(members["patch"].to_numpy(), rows, cols, weights, n=n,
                         side=settings.target_shape[0], channels=channels,
                         n_channels=settings.target_shape[2], sigma_px=settings.target_sigma_px)


def normalized_patches(block: np.ndarray, first_frame: int, corners: pd.DataFrame, *,
                       size: int, normalize: str,
                       global_factors: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """The planned patches ``corners`` cut from ``block`` and normalized, camera resolution.

    Parameters
    ----------
    block : ndarray
        ``(t, y, x)`` frames ``first_frame .. first_frame + t - 1``, ADU.
    first_frame : int
    corners : pandas.DataFrame
        ``frame``, ``row0``, ``col0`` per patch (frames inside the block).
    size : int
        Patch side, camera px.
    normalize : {"frame", "patch", "global"}
        Each whole frame projected to ``[0, 1]`` before the cut; each patch projected;
        or ``(ADU - global_factors[0]) / global_factors[1]`` (Deep-STORM3D's
        ``global_factors``).
    global_factors : tuple of float
        ``(offset, scale)`` of ``"global"``, ADU.

    Returns
    -------
    ndarray
        ``(k, size, size)`` float32.
    """
    if normalize == "frame":
        used = np.unique(corners["frame"].to_numpy() - first_frame)
        frames = np.zeros(block.shape, dtype=np.float32)
        frames[used] = normalize_patches(block[used])
        block = frames
    patches = cut_patches(block, corners["frame"].to_numpy() - first_frame,
                          corners["row0"].to_numpy(), corners["col0"].to_numpy(), size)
    if normalize == "patch":
        return normalize_patches(patches)
    if normalize == "global":
        offset, scale = global_factors
        return normalize_global(patches, subtract=offset, divide=scale)
    return patches.astype(np.float32)


def pairs_from_block(block: np.ndarray, first_frame: int, corners: pd.DataFrame,
                     members: pd.DataFrame, settings: DeepstormSettings
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The training pairs of the planned patches ``corners`` cut from ``block``.

    Parameters
    ----------
    block : ndarray
        ``(t, y, x)`` frames ``first_frame .. first_frame + t - 1``.
    first_frame : int
    corners : pandas.DataFrame
        ``frame``, ``row0``, ``col0`` per patch (frames inside the block).
    members : pandas.DataFrame
        ``patch`` (index into ``corners``), ``x_px``, ``y_px`` and the settings'
        :attr:`~DeepstormSettings.member_columns`.
    settings : DeepstormSettings

    Returns
    -------
    inputs, targets : ndarray
        ``(k, H*u, W*u, 1)`` and ``(k, H*u, W*u, C)`` float32.
    """
    patches = normalized_patches(block, first_frame, corners, size=settings.patch_size_px,
                                 normalize=settings.normalize)
    inputs = upsample_nearest(patches, settings.upsampling)[..., None]
    targets = member_targets(members, corners, n=len(corners), settings=settings)
    return inputs, targets


__all__ = ["CandidateSettings", "DeepstormSettings", "MIN_EMITTERS", "NORMALIZE", "WEIGHTS",
           "cut_patches", "member_targets", "normalized_patches", "pairs_from_block",
           "spike_pixels", "upsample_nearest"]
