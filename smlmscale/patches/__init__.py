"""Training-pair generation: patch sets (Zarr) cut from movies and localization tables.

- :mod:`~smlmscale.patches.patchset`: the patch-set Zarr format (create, open, describe).
- :mod:`~smlmscale.patches.base`: the generator contract (:class:`Generated`, :class:`Runner`);
  :mod:`~smlmscale.patches.frames`: tables as frame-ordered lazy parts;
  :mod:`~smlmscale.patches.plan`: seeded random patch positions decided from the table.
- Generators (settings and kernels, then graph builders), one record each in
  :mod:`~smlmscale.patches.generators`: :mod:`~smlmscale.patches.deepstorm` /
  :mod:`~smlmscale.patches.deepstorm_graph`, :mod:`~smlmscale.patches.fusion` /
  :mod:`~smlmscale.patches.fusion_graph`, :mod:`~smlmscale.patches.summed` /
  :mod:`~smlmscale.patches.summed_graph` (and :mod:`~smlmscale.patches.summed_export`),
  :mod:`~smlmscale.patches.counts` with :mod:`~smlmscale.patches.counts_fit` /
  :mod:`~smlmscale.patches.counts_graph` (with :mod:`~smlmscale.io.rois`),
  :mod:`~smlmscale.patches.stacks` with :mod:`~smlmscale.patches.stacks_targets` /
  :mod:`~smlmscale.patches.stacks_graph` (``frames``: K-frame stacks at camera resolution
  and per-pixel emitter maps, for ``locnet``), :mod:`~smlmscale.patches.deepstorm3d` /
  :mod:`~smlmscale.patches.deepstorm3d_graph` (Deep-STORM3D: camera-resolution patches and
  the emitter maps the voxel grid is built from in the loss).
- :mod:`~smlmscale.patches.run`: :func:`prepare_patches` / :func:`run_patches` (and
  :func:`make_patches`, both in one call), the orchestration;
  :mod:`~smlmscale.patches.writers`: parallel region writes or ordered appends.
"""

from smlmscale.patches.deepstorm import DeepstormSettings
from smlmscale.patches.deepstorm3d import Deepstorm3dSettings
from smlmscale.patches.patchset import PatchSet, create_patchset, describe_patchset, open_patchset
from smlmscale.patches.generators import GENERATORS, KINDS, Generator, generator
from smlmscale.patches.run import (PatchesPlan, PatchesResult, PatchResult, make_patches,
                                   prepare_patches, run_patches)

__all__ = ["Deepstorm3dSettings", "DeepstormSettings", "GENERATORS", "Generator", "KINDS", "PatchResult", "PatchSet",
           "PatchesPlan", "PatchesResult", "create_patchset", "describe_patchset", "generator",
           "make_patches", "open_patchset", "prepare_patches", "run_patches"]
