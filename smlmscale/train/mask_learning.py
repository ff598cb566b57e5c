"""``train --model deepstorm3d --learn-mask --psf FILE``: the phase mask learnt with the CNN.

The seed's other mode (Deep-STORM3D, ``learn_mask = True``): the patch set's emitters
(positions, z and photons of its sparse targets) are imaged anew in every step through
the differentiable pupil model, with the phase mask a trainable weight
(:class:`~smlmscale.models.mask_imaging.PhaseMaskImaging`), and the deepstorm3d CNN
localizes them; the loss's gradient optimizes both. The patch set's own input images are
not used.

- :func:`prepare_mask_learning` (no ``keras``): the PSF file gives the optics, the
  starting mask (make one without ``--mask`` for the seed's zero modulation) and the
  blur range; its z range must cover the patch set's. The background and read noise
  are the patch set's source simulation's when it is a smlmscale simulation, else the
  simulator's defaults (:class:`MaskLearning` records which).
- :func:`learner`, :func:`learning_stream`: the model and data the run trains.
- :func:`save_learned`: the model folder gets the CNN alone as ``model.keras`` (frames
  in, as every deepstorm3d model), the mask as ``learned_mask.npy`` (``(N, N)`` radians
  on the pupil grid, SLM pixels of the PSF file's optics: ``smlmscale psf --mask
  learned_mask.npy`` with the same optics takes it) and ``learned.psf.zarr``, a PSF file
  of it on the starting file's z grid (``simulate --psf`` takes it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smlmscale.errors import InputError

#: Files of the learnt mask in the model folder.
MASK_FILE, PSF_FILE = "learned_mask.npy", "learned.psf.zarr"


@dataclass(frozen=True, eq=False)
class MaskLearning:
    """What mask learning images with (:func:`prepare_mask_learning`).

    Attributes
    ----------
    psf_path : str
        The PSF file (a pupil model).
    optics : dict
        Its :class:`~smlmscale.psf.optics.OpticsSettings` fields.
    initial_mask : numpy.ndarray
        ``(N, N)`` starting phase, radians.
    blur_sigma_px_range : (float, float)
        Per-emitter blur, camera px.
    z_nm : numpy.ndarray
        The PSF file's z grid, nm (the learnt PSF file's too).
    size_px : (int, int)
        The PSF file's window, px.
    background_photons : (float, float)
        Uniform background per frame, photons/px.
    read_noise_photons : float
        Read-noise sigma, photons.
    physics : str
        Where background and noise come from, in words.
    """

    psf_path: str
    optics: dict
    initial_mask: np.ndarray
    blur_sigma_px_range: tuple[float, float]
    z_nm: np.ndarray
    size_px: tuple[int, int]
    background_photons: tuple[float, float]
    read_noise_photons: float
    physics: str

    def record(self) -> dict[str, Any]:
        """JSON-able summary, for ``smlmscale.json``."""
        return {"psf": self.psf_path, "blur_sigma_px_range": list(self.blur_sigma_px_range),
                "background_photons": list(self.background_photons),
                "read_noise_photons": self.read_noise_photons, "physics": self.physics,
                "mask_file": MASK_FILE, "psf_file": PSF_FILE}


def _physics(patchset: Any) -> tuple[tuple[float, float], float, str]:
    """Background range (photons/px), read noise (photons) and their source."""
    from smlmscale.patches.stacks_graph import simulation_settings
    from smlmscale.simulate.instrument import BackgroundSettings, CameraSettings

    store_path = (patchset.attrs.get("source") or {}).get("store")
    simulation = None
    if store_path:
        try:
            from smlmscale.io.ome_zarr import open_image_store

            store = open_image_store(store_path)
            simulation = simulation_settings(store, tuple(store.array.shape))
        except Exception:  # noqa: BLE001 - a moved or foreign movie: use the defaults
            simulation = None
    if simulation is not None:
        bg, camera, where = simulation.background, simulation.camera, f"simulation {store_path}"
    else:
        bg, camera, where = BackgroundSettings(), CameraSettings(), "the simulator's defaults"
    background = (float(bg.photons_per_px), float(bg.photons_per_px + bg.nonuniform_photons))
    return background, float(camera.read_noise_e / camera.qe), where


def prepare_mask_learning(psf: str | os.PathLike, patchset: Any) -> MaskLearning:
    """Check a ``--learn-mask`` run against its PSF file and patch set (no ``keras``).

    Raises
    ------
    InputError
        A bead PSF (no optics to learn a mask for); a patch set whose z
        range the PSF file does not cover, or whose patches are too large for the pupil
        grid.
    """
    from smlmscale.psf.pupil import check_shift_field
    from smlmscale.psf.store import load_psf

    model = load_psf(psf)
    if model.model != "pupil":
        raise InputError("--learn-mask needs a pupil PSF file (optics and a mask); this is "
                         "a measured bead PSF", path=psf,
                         hint="make one with smlmscale psf --mask ... (or without a mask)")
    z_range = patchset.attrs.get("z_range_nm")
    if z_range is not None:
        model.check_z_range(*(float(v) for v in z_range))
    check_shift_field(model.grid, tuple(patchset.inputs.shape[1:3]))
    background, read_noise, where = _physics(patchset)
    return MaskLearning(psf_path=os.path.abspath(os.fspath(psf)),
                        optics=model.optics.to_mapping(), initial_mask=model.mask_phase,
                        blur_sigma_px_range=model.blur_sigma_px_range, z_nm=model.z_nm,
                        size_px=model.size_px, background_photons=background,
                        read_noise_photons=read_noise, physics=where)


def learner(cnn: Any, learning: MaskLearning, target_shape: tuple[int, ...], *,
            seed: int) -> Any:
    """The trained model: emitter maps -> imaging with the mask -> ``cnn``."""
    from smlmscale.models.mask_imaging import IMAGING, PhaseMaskImaging, build_mask_learner

    imaging = PhaseMaskImaging(learning.optics, initial_mask=learning.initial_mask,
                               blur_sigma_px_range=learning.blur_sigma_px_range,
                               background_photons=learning.background_photons,
                               read_noise_photons=learning.read_noise_photons, seed=seed,
                               name=IMAGING)
    return build_mask_learner(cnn, imaging, target_shape)


def learning_stream(stream: Any) -> Any:
    """A ``(inputs, targets)`` stream as the learner reads it: ``(targets, targets)``, the
    scaled targets in both places (the stream is read with ``targets_only``, so the patch
    set's images are never read)."""
    return None if stream is None else stream.map(lambda inputs, targets: (targets, targets))


def save_learned(learner_model: Any, learning: MaskLearning, folder: Path) -> Any:
    """Write the mask and its PSF file into ``folder``; return the CNN alone."""
    from smlmscale.models.mask_imaging import learned_parts
    from smlmscale.psf.optics import OpticsSettings
    from smlmscale.psf.run import make_pupil_psf
    from smlmscale.psf.settings import MaskSettings, PsfGridSettings

    cnn, mask = learned_parts(learner_model)
    np.save(folder / MASK_FILE, mask)
    z = learning.z_nm
    step = float(z[1] - z[0]) if len(z) > 1 else 1.0
    size = learning.size_px[0] if learning.size_px[0] % 2 else learning.size_px[0] - 1
    make_pupil_psf(folder / PSF_FILE, optics=OpticsSettings.from_mapping(learning.optics),
                   grid=PsfGridSettings(z_range_nm=(float(z[0]), float(z[-1])),
                                        z_step_nm=step, size_px=size,
                                        blur_sigma_px_range=learning.blur_sigma_px_range),
                   mask=MaskSettings(mask=str(folder / MASK_FILE)), overwrite=True,
                   command=f"learned by smlmscale train --learn-mask from {learning.psf_path}")
    return cnn


__all__ = ["MASK_FILE", "MaskLearning", "PSF_FILE", "learner", "learning_stream",
           "prepare_mask_learning", "save_learned"]
