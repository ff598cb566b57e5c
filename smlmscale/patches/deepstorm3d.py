"""Deep-STORM3D training pairs (seed 004): settings and kernels (NumPy in, NumPy out).

Where the patches go is decided from the table alone, as for ``deepstorm``
(:mod:`smlmscale.patches.plan`). For each kept patch:

- **Input**: the patch at camera resolution, ``(H, W, 1)`` float32, normalized as the seed
  does: each whole frame projected to ``[0, 1]`` before the cut (``project_01``, the
  default, as ``predict`` normalizes frames), each patch projected, or
  ``(ADU - global_factors[0]) / global_factors[1]`` (``--normalize global``, the seed's
  ``global_factors``), the kernels of :mod:`smlmscale.kernels.normalize`.
- **Target**: the emitters of the patch, stored *sparsely* at camera resolution: channels
  ``occupancy, photons, dx_px, dy_px, z_nm`` (:data:`TARGET_CHANNELS`), ``(H, W, 5)``
  float32, the maps of the ``frames`` generator
  (:func:`smlmscale.patches.stacks_targets.target_maps`): 1 in the camera pixel holding an
  emitter, its photons (1 when the table has none), its offset from the pixel centre in
  px (``[-0.5, 0.5)``) and its z, nm. The dense voxel grid of the seed, ``D = z_voxels``
  slices over ``z_range_nm`` and ``upsampling`` times the camera pixels laterally (a spike
  of ``scaling_factor`` in voxel ``(floor(y_px u) - r0 u, floor(x_px u) - c0 u,
  floor((z - lo) / (hi - lo) D))``), is built from these maps inside the loss
  (:mod:`smlmscale.models.deepstorm3d_loss`): ``(4 * 64)^2 * 121`` floats per patch would be
  a 32 MB target, the maps are 80 kB. Two emitters in one camera pixel keep the brighter
  (counted as a collision; rare at the seed's densities).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from smlmscale.errors import InputError
from smlmscale.patches.deepstorm import MIN_EMITTERS, normalized_patches
from smlmscale.settings import Settings, setting

#: Normalizations of the inputs (``project_01`` per frame or per patch; global factors).
NORMALIZE_3D = ("frame", "patch", "global")
#: The target channels, in order (the contract of the deepstorm3d loss).
TARGET_CHANNELS = ("occupancy", "photons", "dx_px", "dy_px", "z_nm")


@dataclass(frozen=True)
class Deepstorm3dSettings(Settings):
    """Parameters of the ``deepstorm3d`` generator (px = camera pixels).

    Attributes
    ----------
    patch_size_px : int
        Side of a square patch, camera px (the seed's training images are 121 px).
    upsampling : int
        Lateral upsampling of the voxel grid (the seed's 4: voxels of a quarter pixel).
    per_frame : int
        Candidate patches drawn per frame.
    min_emitters : int
        Keep a candidate with at least this many emitters inside.
    z_voxels : int
        ``D``, voxels of the grid along z (the seed's 121 over 4 um); at least 2.
    z_range_nm : tuple of float or None
        ``(lo, hi)`` covered by the ``D`` voxels, nm (voxel ``k`` spans
        ``lo + [k, k + 1) (hi - lo) / D``); None: a smlmscale simulation's axial range,
        else the z extent of the emitters in the patches. A given range that does not
        cover those emitters is refused.
    normalize : {"frame", "patch", "global"}
        See the module docstring.
    global_factors : tuple of float
        ``(offset, scale)`` of ``--normalize global``, ADU (the seed's ``[0, 250]``).
    seed : int
        Seeds the patch positions (with the frame index) and the split.
    """

    settings_crossed_limit = True

    patch_size_px: int = setting(64, min=1, unit="camera px", help="Patch side")
    upsampling: int = setting(4, min=1, help="Upsampling factor")
    per_frame: int = setting(1, min=1, help="Candidate patches per frame")
    min_emitters: int = setting(1, **MIN_EMITTERS)
    z_voxels: int = setting(121, min=2, help="deepstorm3d: voxels along z (D) of the "
                                             "target grid")
    z_range_nm: tuple[float, float] | None = setting(
        None, unit="nm", help="LOW:HIGH z range",
        default_text="a simulation's range, else the emitters'")
    normalize: str = setting("frame", choices=NORMALIZE_3D,
                             help="Inputs projected to [0, 1] per frame or per patch, or "
                                  "by --global-factors")
    global_factors: tuple[float, float] = setting(
        (0.0, 250.0), unit="ADU", help="--normalize global: inputs (ADU - OFFSET) / SCALE")
    seed: int = setting(0, min=0, help="Seeds positions, shifts, bins and the split")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.z_range_nm is not None:
            lo, hi = self.z_range_nm
            if not hi > lo:
                raise InputError(f"{{flag}} must go from low to high, got {lo:g}:{hi:g}",
                                 param="z_range_nm", flag="--z-range")
        if not self.global_factors[1] > 0:
            raise InputError(f"the scale of {{flag}} must be greater than 0, got "
                             f"{self.global_factors[1]:g}", param="global_factors")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(H, W, 1)``, camera px."""
        return (self.patch_size_px, self.patch_size_px, 1)

    @property
    def target_shape(self) -> tuple[int, int, int]:
        """``(H, W, 5)``: the sparse maps (:data:`TARGET_CHANNELS`)."""
        return (self.patch_size_px, self.patch_size_px, len(TARGET_CHANNELS))

    @property
    def voxel_nm(self) -> float:
        """Axial voxel size, nm (needs the z range)."""
        lo, hi = self.z_range_nm
        return (hi - lo) / self.z_voxels

    def to_dict(self) -> dict[str, Any]:
        return self.to_mapping()


def with_photons(members: pd.DataFrame) -> pd.DataFrame:
    """``members`` with a ``photons`` column (1 for every emitter when it has none)."""
    if "photons" in members.columns:
        return members
    return members.assign(photons=np.ones(len(members)))


def member_stats(part: tuple[pd.DataFrame, pd.DataFrame]) -> dict:
    """Collisions and z extent of a plan part ``(patches, members)``
    (:func:`~smlmscale.patches.stacks_targets.occupancy_stats`)."""
    from smlmscale.patches.stacks_targets import occupancy_stats

    patches, members = part
    return occupancy_stats((patches, with_photons(members)), max_emitters=2**31,
                           is_3d=True)


def pairs3d_from_block(block: np.ndarray, first_frame: int, corners: pd.DataFrame,
                       members: pd.DataFrame, settings: Deepstorm3dSettings
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The training pairs of the planned patches ``corners`` cut from ``block``.

    Parameters
    ----------
    block, first_frame, corners
        The frames and the patches' corners, as
        :func:`~smlmscale.patches.deepstorm.normalized_patches` takes them.
    members : pandas.DataFrame
        ``patch``, ``x_px``, ``y_px``, ``z_nm`` (and ``photons``) of the emitters inside.
    settings : Deepstorm3dSettings

    Returns
    -------
    inputs, targets : ndarray
        ``(k, H, W, 1)`` and ``(k, H, W, 5)`` float32.

    Examples
    --------
    >>> block = np.arange(32.0).reshape(2, 4, 4)
    >>> corners = pd.DataFrame({"frame": [1], "row0": [0], "col0": [1]})
    >>> members = pd.DataFrame({"patch": [0], "x_px": [2.3], "y_px": [1.9], "z_nm": [50.0]})
    >>> x, y = pairs3d_from_block(block, 0, corners, members, Deepstorm3dSettings(
    ...     patch_size_px=2))
    >>> x.shape, y.shape, [round(float(v), 2) for v in y[0, 1, 1]]
    ((1, 2, 2, 1), (1, 2, 2, 5), [1.0, 1.0, -0.2, 0.4, 50.0])
    """
    from smlmscale.patches.stacks_targets import target_maps

    size = settings.patch_size_px
    patches = normalized_patches(block, first_frame, corners, size=size,
                                 normalize=settings.normalize,
                                 global_factors=settings.global_factors)
    maps, _ = target_maps(with_photons(members), corners, n=len(corners), size_px=size,
                          is_3d=True)
    return patches[..., None], maps


def normalization(settings: Deepstorm3dSettings) -> dict[str, Any]:
    """The ``normalization`` attribute (``predict`` reads ``mode``, ``offset_adu``,
    ``scale_adu``): ``frame``/``patch`` project to [0, 1], ``global`` is affine."""
    if settings.normalize == "global":
        offset, scale = settings.global_factors
        return {"mode": "affine", "offset_adu": float(offset), "scale_adu": float(scale),
                "inputs": "(ADU - offset_adu) / scale_adu (the seed's global_factors)"}
    per = "per frame (the whole frame before cutting)" if settings.normalize == "frame" \
        else "per patch"
    return {"mode": settings.normalize,
            "inputs": f"{per}, (p - min) / (max - min) to [0, 1] (the seed's project_01)"}


__all__ = ["Deepstorm3dSettings", "NORMALIZE_3D", "TARGET_CHANNELS", "member_stats",
           "normalization", "pairs3d_from_block", "with_photons"]
