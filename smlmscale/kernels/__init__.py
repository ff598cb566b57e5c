"""NumPy kernels shared by several stages (NumPy in, NumPy out; no Dask, no paths).

- :mod:`~smlmscale.kernels.normalize`: images projected to ``[0, 1]`` (the seed's
  ``project_01``: what the deepstorm generator applies to the frames or patches it cuts,
  and what ``predict`` applies to the frames it reads) or by two fixed numbers (the
  seed's ``global_factors``);
- :mod:`~smlmscale.kernels.gaussian`: SciPy's normalized 1-D Gaussian and targets made
  of Gaussian-blurred spikes (the deepstorm and summed targets; ``predict`` divides
  confidences by the peak of one emitter's target).
"""

from smlmscale.kernels.gaussian import gaussian_kernel1d, spike_target, stamp_targets
from smlmscale.kernels.normalize import normalize_global, normalize_patch, normalize_patches

__all__ = ["gaussian_kernel1d", "normalize_global", "normalize_patch", "normalize_patches",
           "spike_target", "stamp_targets"]
