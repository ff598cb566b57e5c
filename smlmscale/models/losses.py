"""Training losses, registered with Keras so saved models reload in safe mode.

All losses take ``y_true`` and ``y_pred`` of shape ``(N, H, W, C)`` and return one
value per sample, shape ``(N,)``, the mean over ``H, W, C``; Keras then averages
over the batch. Importing this module imports ``keras`` (and its backend), so
:mod:`smlmscale.models` loads it lazily.

- :func:`mse`: mean squared error.
- :func:`blurred_mse_l1`: MSE between Gaussian-blurred prediction and target plus a
  small L1 penalty on the prediction (Deep-STORM, DSIR seed 003), a :class:`BlurredMSEL1`.
- :func:`poisson_counts`: Poisson negative log-likelihood for non-negative counts.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

from smlmscale.errors import InputError

__all__ = ["LOSSES", "BlurredMSEL1", "blurred_mse_l1", "gaussian_kernel", "get_loss", "mse",
           "poisson_counts"]

#: Added to the predicted rate inside the Poisson logarithm (counts per pixel).
POISSON_EPS = 1e-7


def gaussian_kernel(sigma_px: float, *, truncate: float = 4.0) -> np.ndarray:
    """A normalized 2D Gaussian kernel, as :func:`scipy.ndimage.gaussian_filter` uses.

    Parameters
    ----------
    sigma_px : float
        Standard deviation in pixels (> 0).
    truncate : float, optional
        The kernel radius is ``int(truncate * sigma_px + 0.5)`` pixels.

    Returns
    -------
    numpy.ndarray
        ``(2r + 1, 2r + 1)`` float32, summing to 1.

    Examples
    --------
    >>> gaussian_kernel(1.0).shape
    (9, 9)
    """
    if not (isinstance(sigma_px, (int, float)) and math.isfinite(sigma_px) and sigma_px > 0):
        raise InputError(f"the loss blur sigma must be a positive number of pixels, "
                         f"got {sigma_px!r}", hint="pass e.g. --target-sigma 1")
    radius = int(truncate * float(sigma_px) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma_px) ** 2)
    g /= g.sum()
    return np.outer(g, g).astype(np.float32)


@keras.saving.register_keras_serializable(package="smlmscale")
def mse(y_true: Any, y_pred: Any) -> Any:
    """Mean squared error per sample.

    Parameters
    ----------
    y_true, y_pred : tensor
        ``(N, H, W, C)`` targets and predictions.

    Returns
    -------
    tensor
        ``(N,)``: ``mean((y_pred - y_true) ** 2)`` over H, W, C.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    return ops.mean(ops.square(y_pred - y_true), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="smlmscale")
def poisson_counts(y_true: Any, y_pred: Any) -> Any:
    """Poisson negative log-likelihood of observed counts given predicted rates.

    ``mean(y_pred - y_true * log(y_pred + eps))`` per sample, the NLL up to the
    constant ``log(y_true!)``; minimal where ``y_pred == y_true``.

    Parameters
    ----------
    y_true : tensor
        ``(N, H, W, C)`` observed counts (localizations per pixel, >= 0).
    y_pred : tensor
        ``(N, H, W, C)`` predicted rates (>= 0), e.g. a softplus output.

    Returns
    -------
    tensor
        ``(N,)`` NLL per pixel, averaged over H, W, C.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    nll = y_pred - y_true * ops.log(y_pred + POISSON_EPS)
    return ops.mean(nll, axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="smlmscale")
class BlurredMSEL1(keras.losses.Loss):
    """Gaussian-blurred MSE plus an L1 penalty on the prediction (Deep-STORM, DSIR).

    Per sample: ``mean((g * (y_pred - y_true)) ** 2) + l1_weight * mean(|y_pred|)``,
    with ``g *`` a 2D convolution, channel by channel, with the normalized Gaussian
    of :func:`gaussian_kernel` and zeros outside the patch (SciPy ``mode="constant"``).
    The kernel is fixed, a depthwise convolution, not trained.

    Parameters
    ----------
    sigma_px : float, optional
        Gaussian standard deviation in target pixels.
    l1_weight : float, optional
        Weight of the L1 term (>= 0); small, it favours sparse predictions.
    name : str, optional
        Loss name, shown in logs.
    **kwargs
        Passed to :class:`keras.losses.Loss` (``reduction``, ``dtype``).
    """

    def __init__(self, sigma_px: float = 1.0, l1_weight: float = 0.0, *,
                 name: str = "blurred_mse_l1", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not (isinstance(l1_weight, (int, float)) and math.isfinite(l1_weight)
                and l1_weight >= 0):
            raise InputError(f"the L1 weight of the loss must be >= 0, got {l1_weight!r}",
                             hint="pass a small value such as 1e-5 or 0")
        self._kernel = gaussian_kernel(sigma_px)
        self.sigma_px = float(sigma_px)
        self.l1_weight = float(l1_weight)

    def blur(self, images: Any) -> Any:
        """Blur ``(N, H, W, C)`` images channel by channel; zero padding, same size."""
        images = ops.convert_to_tensor(images)
        channels = images.shape[-1]
        kernel = ops.cast(ops.convert_to_tensor(self._kernel), images.dtype)
        kernel = ops.tile(kernel[:, :, None, None], (1, 1, channels, 1))
        return ops.depthwise_conv(images, kernel, strides=1, padding="same")

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-sample loss ``(N,)`` for ``(N, H, W, C)`` targets and predictions."""
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        blurred = self.blur(y_pred - y_true)
        loss = ops.mean(ops.square(blurred), axis=(1, 2, 3))
        if self.l1_weight:
            loss = loss + self.l1_weight * ops.mean(ops.abs(y_pred), axis=(1, 2, 3))
        return loss

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, for saving."""
        config = super().get_config()
        config.update(sigma_px=self.sigma_px, l1_weight=self.l1_weight)
        return config


def blurred_mse_l1(sigma_px: float = 1.0, l1_weight: float = 0.0) -> BlurredMSEL1:
    """The blurred-MSE-plus-L1 loss for a blur ``sigma_px`` (pixels) and an L1 weight.

    Parameters
    ----------
    sigma_px : float, optional
        Gaussian standard deviation in target pixels (> 0).
    l1_weight : float, optional
        Weight of ``mean(|y_pred|)`` (>= 0).

    Returns
    -------
    BlurredMSEL1
        A serializable Keras loss.

    Raises
    ------
    InputError
        For a non-positive sigma or a negative weight.
    """
    return BlurredMSEL1(sigma_px, l1_weight)


LOSSES = {"mse": mse, "blurred-mse": blurred_mse_l1, "poisson": poisson_counts}


def get_loss(name: str, **params: Any) -> Any:
    """A loss by its command-line name: ``"mse"``, ``"blurred-mse"`` or ``"poisson"``.

    Parameters
    ----------
    name : str
        Key of :data:`LOSSES`.
    **params
        ``sigma_px`` and ``l1_weight`` for ``"blurred-mse"``; none for the others.

    Returns
    -------
    callable or keras.losses.Loss
    """
    if name not in LOSSES:
        raise InputError(f"unknown loss {name!r}", hint=f"choose one of {', '.join(LOSSES)}")
    if name == "blurred-mse":
        return blurred_mse_l1(**params)
    if params:
        raise InputError(f"loss {name!r} takes no parameters, got {', '.join(params)}")
    return LOSSES[name]
