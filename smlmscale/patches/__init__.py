"""Training-pair generation: patch sets (Zarr) cut from movies and localization tables.

- :mod:`~smlmscale.patches.patchset`: the patch-set Zarr format (create, open, describe).
- :mod:`~smlmscale.patches.base`: the generator contract (:class:`Generated`, :class:`Runner`);
  :mod:`~smlmscale.patches.frames`: tables as frame-ordered lazy parts;
  :mod:`~smlmscale.patches.plan`: seeded random patch positions decided from the table.
- Generators (kernels, then graph builders): :mod:`~smlmscale.patches.deepstorm` /
  :mod:`~smlmscale.patches.deepstorm_graph`, :mod:`~smlmscale.patches.fusion` /
  :mod:`~smlmscale.patches.fusion_graph`, :mod:`~smlmscale.patches.summed`,
  :mod:`~smlmscale.patches.counts` / :mod:`~smlmscale.patches.counts_graph` (with
  :mod:`~smlmscale.io.rois`).
- :mod:`~smlmscale.patches.run`: :func:`make_patches`, the orchestration;
  :mod:`~smlmscale.patches.writers`: parallel region writes or ordered appends.
"""

from smlmscale.patches.deepstorm import DeepstormSettings
from smlmscale.patches.patchset import PatchSet, create_patchset, describe_patchset, open_patchset
from smlmscale.patches.run import KINDS, PatchResult, make_patches

__all__ = ["DeepstormSettings", "KINDS", "PatchResult", "PatchSet", "create_patchset",
           "describe_patchset", "make_patches", "open_patchset"]
