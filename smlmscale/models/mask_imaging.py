"""Mask learning (seed 004's ``learn_mask`` mode): a differentiable imaging layer with a
trainable phase mask in front of the deepstorm3d CNN.

:class:`PhaseMaskImaging` turns the sparse emitter maps of a deepstorm3d patch set
(``(N, H, W, 5)``: occupancy, photons, dx_px, dy_px, z_nm; :mod:`smlmscale.patches.
deepstorm3d`) into normalized camera frames ``(N, H, W, 1)`` with the pupil model of
:mod:`smlmscale.psf.pupil` on its TensorFlow backend, the mask a weight of the layer:

1. each emitter's PSF image, unit energy over the pupil grid's ``n x n`` field, shifted
   to its place in the frame by the pupil's phase ramp (exact for a band-limited field;
   the grid is periodic, so the frame must be at most ``(n - 1) / 2`` px across, which
   :func:`~smlmscale.psf.pupil.check_shift_field` enforces), blurred by a Gaussian
   drawn from the PSF file's blur range (its mean outside training);
2. times its photons, summed per frame, plus a uniform background drawn per frame from
   ``background_photons`` (photons/px);
3. in training, shot noise as its Gaussian approximation ``sqrt(lambda) eps`` and read
   noise ``read_noise_photons eps`` (a reparameterization: the gradient flows through
   the expected image, the noise draws are constants);
4. each frame projected to ``[0, 1]`` (the seed's ``project_01``).

The gradient of the CNN's loss reaches the mask through every step. Departures from the
seed: its learning mode trains a smaller recovery CNN; smlmscale trains the same
deepstorm3d CNN it predicts with, so the model folder's CNN is usable as it is; the
background is uniform (the seed adds its super-Gaussian part) and camera gain, baseline
and rounding are left out (the projection removes gain and baseline). Importing this
module imports ``keras`` and ``tensorflow``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from smlmscale.errors import InputError

__all__ = ["PhaseMaskImaging", "build_mask_learner", "learned_parts"]

#: The learner's layer names: the imaging layer and the CNN inside.
IMAGING, CNN = "phase_mask_imaging", "deepstorm3d"


@keras.saving.register_keras_serializable(package="smlmscale")
class PhaseMaskImaging(keras.layers.Layer):
    """Normalized frames from emitter maps through a pupil PSF with a trainable mask.

    Parameters
    ----------
    optics : mapping
        :class:`~smlmscale.psf.optics.OpticsSettings` fields.
    initial_mask : array_like of shape (n, n), optional
        The starting phase on the pupil grid, radians (default 0: a clear pupil, the
        seed's zero modulation). Saved as the layer's weight, not in its config.
    blur_sigma_px_range : (float, float)
        Per-emitter Gaussian blur, camera px (the PSF file's).
    background_photons : (float, float)
        Uniform background per frame, photons/px, drawn uniformly in training.
    read_noise_photons : float
        Read-noise sigma in photons.
    seed : int
        Seeds the noise and blur draws.
    """

    def __init__(self, optics: Mapping[str, Any], initial_mask: Any = None,
                 blur_sigma_px_range: Sequence[float] = (0.0, 0.0),
                 background_photons: Sequence[float] = (20.0, 20.0),
                 read_noise_photons: float = 1.5, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from smlmscale.psf.backend import backend
        from smlmscale.psf.optics import OpticsSettings, pupil_grid

        self.optics = dict(optics)
        self.grid = pupil_grid(OpticsSettings.from_mapping(self.optics))
        self.blur_sigma_px_range = tuple(float(v) for v in blur_sigma_px_range)
        self.background_photons = tuple(float(v) for v in background_photons)
        self.read_noise_photons = float(read_noise_photons)
        self.seed = int(seed)
        self._initial = (np.zeros((self.grid.n, self.grid.n)) if initial_mask is None
                         else np.asarray(initial_mask, np.float64))
        if self._initial.shape != (self.grid.n, self.grid.n):
            raise InputError(f"the initial mask is {self._initial.shape}, the pupil grid "
                             f"{self.grid.n}x{self.grid.n}")
        self._xp = backend("tensorflow")
        self._noise = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape: Any) -> None:
        from smlmscale.psf.pupil import check_shift_field

        check_shift_field(self.grid, input_shape[1:3])
        self.mask = self.add_weight(
            name="phase_mask", shape=(self.grid.n, self.grid.n), dtype="float32",
            initializer=keras.initializers.Constant(self._initial.astype(np.float32)))
        super().build(input_shape)

    def expected(self, maps: Any, *, training: bool = False) -> Any:
        """Expected photons per pixel ``(N, H, W)`` of the emitters of ``maps``, no
        background (blur drawn in training, its mean otherwise)."""
        from smlmscale.psf.pupil import psf_images

        maps = tf.convert_to_tensor(maps, tf.float32)
        height, width = int(maps.shape[1]), int(maps.shape[2])
        where = tf.where(maps[..., 0] > 0.5)  # (M, 3): frame, row, column
        values = tf.gather_nd(maps, where)
        rows, cols = (tf.cast(where[:, k], tf.float32) for k in (1, 2))
        # offsets from the centre of the crop's reference pixel (h // 2, w // 2)
        dx = cols + 0.5 + values[:, 2] - (width // 2 + 0.5)
        dy = rows + 0.5 + values[:, 3] - (height // 2 + 0.5)
        lo, hi = self.blur_sigma_px_range
        if training and hi > lo:
            blur = keras.random.uniform(tf.shape(dx), lo, hi, seed=self._noise)
        else:
            blur = tf.fill(tf.shape(dx), 0.5 * (lo + hi)) if hi > 0 else None
        spots = psf_images(self.grid, dx_px=dx, dy_px=dy, z_nm=values[:, 4],
                           mask_phase=self.mask, blur_sigma_px=blur,
                           size_px=(height, width), xp=self._xp)
        spots = spots * values[:, 1][:, None, None]
        return tf.math.unsorted_segment_sum(spots, tf.cast(where[:, 0], tf.int32),
                                            tf.shape(maps)[0])

    def call(self, maps: Any, training: bool | None = None) -> Any:
        training = bool(training)
        image = self.expected(maps, training=training)
        lo, hi = self.background_photons
        count = tf.shape(image)[0]
        background = (keras.random.uniform((count, 1, 1), lo, hi, seed=self._noise)
                      if training and hi > lo else tf.fill((count, 1, 1), 0.5 * (lo + hi)))
        image = image + background
        if training:
            shot = keras.random.normal(tf.shape(image), seed=self._noise)
            read = keras.random.normal(tf.shape(image), seed=self._noise)
            image = (image + tf.sqrt(tf.maximum(image, 0.0)) * tf.stop_gradient(shot)
                     + self.read_noise_photons * tf.stop_gradient(read))
        low = tf.reduce_min(image, axis=(1, 2), keepdims=True)
        span = tf.reduce_max(image, axis=(1, 2), keepdims=True) - low
        norm = tf.math.divide_no_nan(image - low, span)
        return norm[..., None]

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (*input_shape[:3], 1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(optics=self.optics, blur_sigma_px_range=list(self.blur_sigma_px_range),
                      background_photons=list(self.background_photons),
                      read_noise_photons=self.read_noise_photons, seed=self.seed)
        return config


def build_mask_learner(cnn: Any, imaging: PhaseMaskImaging, target_shape: Sequence[int]
                       ) -> Any:
    """The model trained by ``--learn-mask``: emitter maps -> imaging -> ``cnn``.

    Parameters
    ----------
    cnn : keras.Model
        The deepstorm3d CNN (frames ``(H, W, 1)`` in).
    imaging : PhaseMaskImaging
    target_shape : sequence of int
        ``(H, W, 5)``: the patch set's targets, the learner's input.
    """
    maps = keras.Input(tuple(int(v) for v in target_shape), name="emitter_maps")
    frames = imaging(maps)
    return keras.Model(maps, cnn(frames), name="deepstorm3d_mask_learner")


def learned_parts(learner: Any) -> tuple[Any, np.ndarray]:
    """``(cnn, mask)`` of a trained learner: the CNN alone (frames in) and the learned
    phase ``(n, n)`` float64, radians."""
    imaging = learner.get_layer(IMAGING)
    return learner.get_layer(CNN), np.asarray(imaging.mask.numpy(), np.float64)
