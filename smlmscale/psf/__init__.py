"""PSF models: Fourier-optics pupil PSFs with phase masks, and measured beads.

- :mod:`~smlmscale.psf.optics`: the optical system (:class:`OpticsSettings`, the seed's
  4f geometry) and its pupil grid (:func:`pupil_grid`);
- :mod:`~smlmscale.psf.pupil`: the scalar pupil kernels (:func:`psf_images`), in NumPy or
  TensorFlow through :mod:`~smlmscale.psf.backend`, so they are differentiable;
- :mod:`~smlmscale.psf.zernike` and :mod:`~smlmscale.psf.masks`: Zernike (Noll) masks,
  the built-in ``astigmatism`` and ``tetrapod``, masks read from ``.mat``/``.npy``/``.tif``;
- :mod:`~smlmscale.psf.bead`: the empirical PSF of a bead z-stack (:func:`bead_psf`);
- :mod:`~smlmscale.psf.store` and :mod:`~smlmscale.psf.model`: PSF files (Zarr) and the
  models loaded from them (:func:`load_psf`), which render spots at any sub-pixel
  position and z;
- :mod:`~smlmscale.psf.run`: making PSF files (``smlmscale psf``).
"""

from smlmscale.psf.backend import Backend, backend
from smlmscale.psf.bead import BeadPsfResult, bead_psf, interpolate_z, shift_blur
from smlmscale.psf.masks import fit_mask, read_mask, zernike_mask
from smlmscale.psf.model import BeadPsf, PsfModel, PupilPsf, add_spots
from smlmscale.psf.optics import OpticsSettings, PupilGrid, grid_size, pupil_grid
from smlmscale.psf.pupil import image_from_field, psf_images, pupil_field
from smlmscale.psf.run import PsfResult, build_mask, make_bead_psf, make_pupil_psf
from smlmscale.psf.settings import BeadSettings, MaskSettings, PsfGridSettings, z_grid
from smlmscale.psf.store import describe_psf, is_psf_store, load_psf, write_psf_group
from smlmscale.psf.zernike import BUILTIN_MASKS, noll_to_nm, parse_zernike, zernike

__all__ = ["BUILTIN_MASKS", "Backend", "BeadPsf", "BeadPsfResult", "BeadSettings",
           "MaskSettings", "OpticsSettings", "PsfGridSettings", "PsfModel", "PsfResult",
           "PupilGrid", "PupilPsf", "add_spots", "backend", "bead_psf", "build_mask",
           "describe_psf", "fit_mask", "grid_size", "image_from_field", "interpolate_z",
           "is_psf_store", "load_psf", "make_bead_psf", "make_pupil_psf", "noll_to_nm",
           "parse_zernike", "psf_images", "pupil_field", "pupil_grid", "read_mask",
           "shift_blur", "write_psf_group", "z_grid", "zernike", "zernike_mask"]
