"""The Deep-STORM3D loss: 3D-Gaussian-blurred MSE of the voxel grids plus the Dice overlap.

Per sample, with ``s`` the scaling factor, ``t`` the target grid (1 in the voxel of each
emitter, 0 elsewhere; :meth:`DeepStorm3DLoss.voxel_targets`) and ``p`` the network's
output ``(u H, u W, D)`` in ``[0, s]``:

``loss = mean((g * (p - s t))^2) + dice_weight * (1 - (2 sum(p/s t) + 1) /
(sum((p/s)^2) + sum(t^2) + 1))``

``g *`` is the convolution with the 3D Gaussian of ``sigma_voxels`` (1) voxels, peak 1
(not sum 1: the seed's ``GaussianKernel`` normalizes by its maximum), ``2 radius + 1``
(7) voxels wide in x, y and z, with zeros beyond the grid: the paper's kernel-density
(KDE) loss, ``MSE(g * p, g * s t)``, computed as the blur of the difference (it is
linear). The second term is the paper's overlap measure (a soft Dice of ``p / s`` and
``t``, smoothing 1).

Departures from the seed's ``KDE_loss3D``: zero padding in x and y as in z (the seed
convolves x and y "valid", so a band of 3 voxels at the patch edge does not count); the
Dice denominator ``sum(p^2) + sum(t^2)`` (the seed's code sums ``t p`` where the formula
has ``p^2``), and both terms per sample, then averaged by Keras (the seed sums Dice over
the batch).

The target grid is built here from the sparse maps of the patch set
(:mod:`smlmscale.patches.deepstorm3d`): channels ``occupancy, photons, dx_px, dy_px,
z_nm`` at camera resolution; the emitter of camera pixel ``(i, j)`` goes to voxel
``(u i + floor(u (dy + 0.5)), u j + floor(u (dx + 0.5)), floor((z - lo) / (hi - lo) D))``,
clipped into the grid. Importing this module imports ``keras``.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

from smlmscale.errors import InputError

__all__ = ["DeepStorm3DLoss", "deepstorm3d_loss", "peak_kernel1d"]


def peak_kernel1d(sigma: float, radius: int) -> np.ndarray:
    """The 1D Gaussian ``exp(-x^2 / (2 sigma^2))``, ``x = -radius .. radius``, peak 1.

    Its outer product over three axes is the seed's 3D kernel (normalized by its maximum).

    >>> peak_kernel1d(1.0, 1).round(4).tolist()
    [0.6065, 1.0, 0.6065]
    """
    x = np.arange(-int(radius), int(radius) + 1, dtype=np.float64)
    return np.exp(-0.5 * (x / float(sigma)) ** 2).astype(np.float32)


def _band(kernel: np.ndarray, size: int) -> np.ndarray:
    """``(size, size)`` matrix ``M`` with ``v @ M`` the zero-padded 1D correlation."""
    radius = len(kernel) // 2
    m = np.zeros((size, size), np.float32)
    for offset, weight in zip(range(-radius, radius + 1), kernel):
        m += np.eye(size, k=-offset, dtype=np.float32) * weight
    return m


@keras.saving.register_keras_serializable(package="smlmscale")
class DeepStorm3DLoss(keras.losses.Loss):
    """The Deep-STORM3D loss (module docstring), per sample.

    Parameters
    ----------
    upsampling : int
        Voxels per camera pixel laterally.
    z_range_nm : sequence of float
        ``(lo, hi)`` of the ``z_voxels`` slices, nm.
    z_voxels : int
        ``D``.
    scaling_factor : float
        ``s``, the spike of one emitter (the network's upper bound).
    sigma_voxels : float, optional
        Gaussian sigma of the KDE, voxels.
    radius_voxels : int, optional
        Half-width of the KDE kernel, voxels (3: the seed's 7 x 7 x 7).
    dice_weight : float, optional
        Weight of the overlap term (1 as in the paper; 0 for the KDE term alone).
    name : str, optional
    **kwargs
        Passed to :class:`keras.losses.Loss`.
    """

    def __init__(self, upsampling: int = 4, z_range_nm: Any = (-500.0, 500.0),
                 z_voxels: int = 121, scaling_factor: float = 800.0,
                 sigma_voxels: float = 1.0, radius_voxels: int = 3, dice_weight: float = 1.0,
                 *, name: str = "deepstorm3d", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        lo, hi = (float(v) for v in z_range_nm)
        numbers = (scaling_factor, sigma_voxels, dice_weight)
        if (int(upsampling) < 1 or int(z_voxels) < 2 or not hi > lo or int(radius_voxels) < 0
                or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers)
                or not scaling_factor > 0 or not sigma_voxels > 0 or dice_weight < 0):
            raise InputError(f"bad deepstorm3d loss parameters: upsampling {upsampling}, "
                             f"z range {lo:g}:{hi:g}, z_voxels {z_voxels}, scaling factor "
                             f"{scaling_factor}, sigma {sigma_voxels}, radius "
                             f"{radius_voxels}, dice weight {dice_weight}")
        self.upsampling, self.z_voxels = int(upsampling), int(z_voxels)
        self.z_range_nm = (lo, hi)
        self.scaling_factor, self.sigma_voxels = float(scaling_factor), float(sigma_voxels)
        self.radius_voxels, self.dice_weight = int(radius_voxels), float(dice_weight)
        self._kernel = peak_kernel1d(self.sigma_voxels, self.radius_voxels)
        self._axial = _band(self._kernel, self.z_voxels)

    def voxel_targets(self, y_true: Any) -> Any:
        """The target grid ``(N, u H, u W, D)`` (0 or 1) of ``(N, H, W, 5)`` sparse maps."""
        y_true = ops.convert_to_tensor(y_true, dtype="float32")
        u, d = self.upsampling, self.z_voxels
        lo, hi = self.z_range_nm
        occupied = y_true[..., 0]

        def index(values: Any, scale: float, offset: float, size: int) -> Any:
            where = ops.floor((values - offset) * scale)
            return ops.cast(ops.clip(where, 0, size - 1), "int32")

        rows = ops.one_hot(index(y_true[..., 3], u, -0.5, u), u)
        cols = ops.one_hot(index(y_true[..., 2], u, -0.5, u), u)
        slices = ops.one_hot(index(y_true[..., 4], d / (hi - lo), lo, d), d)
        grid = (occupied[..., None, None, None] * rows[..., :, None, None]
                * cols[..., None, :, None] * slices[..., None, None, :])
        shape = ops.shape(y_true)
        grid = ops.transpose(grid, (0, 1, 3, 2, 4, 5))
        return ops.reshape(grid, (shape[0], shape[1] * u, shape[2] * u, d))

    def blur(self, volume: Any) -> Any:
        """The 3D Gaussian (peak 1, zero padding) of ``(N, X, Y, D)`` grids, separably."""
        volume = ops.convert_to_tensor(volume)
        kernel = ops.cast(ops.convert_to_tensor(self._kernel), volume.dtype)
        depth = volume.shape[-1]
        for shape in ((-1, 1), (1, -1)):
            lateral = ops.tile(ops.reshape(kernel, (*shape, 1, 1)), (1, 1, depth, 1))
            volume = ops.depthwise_conv(volume, lateral, strides=1, padding="same")
        return ops.matmul(volume, ops.cast(ops.convert_to_tensor(self._axial), volume.dtype))

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-sample loss ``(N,)`` of ``(N, H, W, 5)`` maps and ``(N, uH, uW, D)`` grids."""
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_true.shape) != 4 or y_true.shape[-1] != 5 or y_pred.shape[-1] != self.z_voxels:
            raise InputError(f"the deepstorm3d loss needs (N, H, W, 5) targets and (N, uH, uW, "
                             f"{self.z_voxels}) outputs, got {tuple(y_true.shape)} and "
                             f"{tuple(y_pred.shape)}",
                             hint="train --model deepstorm3d on a deepstorm3d patch set")
        spikes = ops.cast(self.voxel_targets(y_true), y_pred.dtype)
        s = self.scaling_factor
        kde = ops.mean(ops.square(self.blur(y_pred - s * spikes)), axis=(1, 2, 3))
        if not self.dice_weight:
            return kde
        p = y_pred / s
        overlap = 2 * ops.sum(p * spikes, axis=(1, 2, 3)) + 1
        total = ops.sum(p * p, axis=(1, 2, 3)) + ops.sum(spikes * spikes, axis=(1, 2, 3)) + 1
        return kde + self.dice_weight * (1 - overlap / total)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, for saving."""
        config = super().get_config()
        config.update(upsampling=self.upsampling, z_range_nm=list(self.z_range_nm),
                      z_voxels=self.z_voxels, scaling_factor=self.scaling_factor,
                      sigma_voxels=self.sigma_voxels, radius_voxels=self.radius_voxels,
                      dice_weight=self.dice_weight)
        return config


def deepstorm3d_loss(upsampling: int = 4, z_range_nm: Any = (-500.0, 500.0),
                     z_voxels: int = 121, scaling_factor: float = 800.0, *,
                     sigma_voxels: float = 1.0, dice_weight: float = 1.0) -> DeepStorm3DLoss:
    """The deepstorm3d loss (:class:`DeepStorm3DLoss`) with its parameters checked.

    Raises
    ------
    InputError
        For parameters out of range.
    """
    return DeepStorm3DLoss(upsampling, z_range_nm, z_voxels, scaling_factor,
                           sigma_voxels=sigma_voxels, dice_weight=dice_weight)
