"""Training losses, registered with Keras so saved models reload in safe mode.

All losses take ``y_true`` and ``y_pred`` of shape ``(N, H, W, C)`` and return one
value per sample, shape ``(N,)``, the mean over ``H, W, C``; Keras then averages
over the batch. Importing this module imports ``keras`` (and its backend), so
:mod:`smlmscale.models` loads it lazily.

- :func:`mse`: mean squared error.
- :func:`blurred_mse_l1`: MSE between Gaussian-blurred prediction and target plus a
  small L1 penalty on the prediction (Deep-STORM, DSIR seed 003), a :class:`BlurredMSEL1`.
- :func:`poisson_counts`: Poisson negative log-likelihood for non-negative counts.
- :func:`locnet_loss`: detection BCE + the DECODE count loss (Gaussian-mixture NLL of the
  true emitters and the emitter-count term) + background MSE, a :class:`LocNetLoss`; it
  maps ``(N, H, W, 5 or 6)`` targets and ``(N, H, W, 8 or 10)`` outputs to ``(N,)``.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

from smlmscale.errors import InputError
from smlmscale.models.deepstorm3d_loss import deepstorm3d_loss
from smlmscale.models.locnet import TARGET_CHANNELS, output_names

__all__ = ["DETECTION_WEIGHT", "LOSSES", "BlurredMSEL1", "LocNetLoss", "blurred_mse_l1",
           "gaussian_kernel", "get_loss", "locnet_loss", "mse", "poisson_counts"]

#: Added to the predicted rate inside the Poisson logarithm (counts per pixel).
POISSON_EPS = 1e-7
#: locnet: p is clipped to [P_EPS, 1 - P_EPS]; the emitter-count variance gets
#: COUNT_VAR_FLOOR added; the mixture's sigmas are at least SIGMA_MIN (px, photons, nm).
P_EPS = 1e-6
COUNT_VAR_FLOOR = 1e-2
SIGMA_MIN = 1e-3
#: Emitters per sample the locnet mixture term gathers by default.
DEFAULT_MAX_EMITTERS = 64
#: Default weight of locnet's detection term. Twice the other terms': on the accuracy
#: benchmark's 10,000 simulated steps it sharpens ``p`` where two emitters lie 1-2 px apart,
#: and the Jaccard index at 0.5 / 2 / 6 emitters/um^2 goes from 0.983 / 0.938 / 0.870 (weight
#: 1) to 0.988 / 0.956 / 0.882, for a lateral RMSE at 0.5/um^2 of 1.63x the CRLB (was 1.55x).
DETECTION_WEIGHT = 2.0


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


def _weight(value: Any, what: str) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise InputError(f"the {what} of the locnet loss must be a number >= 0, got {value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package="smlmscale")
class LocNetLoss(keras.losses.Loss):
    """The locnet loss (DECODE): detection BCE + count loss + background MSE, per sample.

    With targets ``[occ, photons, dx, dy, (z), bg]`` and outputs ``[p, photons, dx, dy,
    (z), sigma_photons, sigma_x, sigma_y, (sigma_z), bg]`` (:mod:`smlmscale.models.locnet`),
    ``p`` clipped to ``[P_EPS, 1 - P_EPS]``, per sample:

    1. ``detection = sum_pixels(-occ log p - (1 - occ) log(1 - p))``, summed like the
       mixture term (a mean over pixels would weigh it ~1000x less on 32 px samples, and
       the network then spreads ``p`` of two close emitters over several pixels, which
       the 3 x 3 local-maximum rule merges into one);
    2. ``count = mixture + count_nll``: the true emitters ``t_m`` (the ``max_emitters``
       most occupied pixels with occ > 0.5; position ``(j + 0.5 + dx, i + 0.5 + dy)`` px,
       ``[z]`` nm, photons) under the mixture whose component ``k`` is every pixel, weight
       ``p_k / sum p``, mean ``(j_k + 0.5 + dx_k, i_k + 0.5 + dy_k, [z_k], photons_k)`` and
       diagonal sigmas (at least ``SIGMA_MIN``): ``mixture = -sum_m logsumexp_k(log w_k +
       log N(t_m | mu_k, sigma_k))``, summed over the emitters as DECODE does (not divided
       by their number); ``count_nll = -log N(E | sum p, sum p (1 - p) + COUNT_VAR_FLOOR)``
       with ``E`` the number of occupied pixels;
    3. ``background = mean_pixels((bg_pred - bg_true) ** 2)``.

    The loss is ``detection_weight * detection + count_weight * count +
    background_weight * background``; Keras averages it over the batch.

    Parameters
    ----------
    is_3d : bool or None, optional
        Whether targets and outputs carry z; None to take it from the target channels
        (5: 2D, 6: 3D).
    max_emitters : int, optional
        Most emitters per sample in the mixture term (the patch set's ``max_emitters``);
        memory grows as ``N * max_emitters * H * W``.
    detection_weight, count_weight, background_weight : float, optional
        Weights (>= 0) of the three terms (detection :data:`DETECTION_WEIGHT`, the others 1).
    name : str, optional
        Loss name, shown in logs.
    **kwargs
        Passed to :class:`keras.losses.Loss` (``reduction``, ``dtype``).
    """

    def __init__(self, is_3d: bool | None = None, max_emitters: int = DEFAULT_MAX_EMITTERS,
                 detection_weight: float = DETECTION_WEIGHT, count_weight: float = 1.0,
                 background_weight: float = 1.0, *, name: str = "locnet",
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not (isinstance(max_emitters, (int, np.integer)) and max_emitters >= 1):
            raise InputError(f"max_emitters of the locnet loss must be an integer >= 1, got "
                             f"{max_emitters!r}")
        self.is_3d = None if is_3d is None else bool(is_3d)
        self.max_emitters = int(max_emitters)
        self.detection_weight = _weight(detection_weight, "detection weight")
        self.count_weight = _weight(count_weight, "count weight")
        self.background_weight = _weight(background_weight, "background weight")

    def _dims(self, y_true: Any, y_pred: Any) -> bool:
        is_3d = TARGET_CHANNELS.get(y_true.shape[-1], self.is_3d)
        if is_3d is None or (self.is_3d is not None and is_3d != self.is_3d) or \
                y_pred.shape[-1] != len(output_names(is_3d)):
            raise InputError(f"the locnet loss needs (N, H, W, 5 or 6) targets and (N, H, W, "
                             f"8 or 10) outputs, got {tuple(y_true.shape)} and "
                             f"{tuple(y_pred.shape)}" + ("" if self.is_3d is None else
                                                         f" (is_3d={self.is_3d})"))
        return is_3d

    def terms(self, y_true: Any, y_pred: Any) -> dict[str, Any]:
        """The terms of the loss, each ``(N,)``: detection, mixture, count_nll, background."""
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        is_3d = self._dims(y_true, y_pred)
        height, width = ops.shape(y_pred)[1], ops.shape(y_pred)[2]
        size = y_pred.shape[1] * y_pred.shape[2] if None not in y_pred.shape[1:3] else None
        flat = ops.reshape(y_pred, (-1, height * width, y_pred.shape[-1]))
        truth = ops.reshape(y_true, (-1, height * width, y_true.shape[-1]))
        occ = truth[..., 0]
        p = ops.clip(flat[..., 0], P_EPS, 1 - P_EPS)
        detection = -ops.sum(occ * ops.log(p) + (1 - occ) * ops.log(1 - p), axis=1)
        emitters = ops.sum(ops.cast(occ > 0.5, p.dtype), axis=1)
        mean = ops.sum(p, axis=1)
        var = ops.sum(p * (1 - p), axis=1) + COUNT_VAR_FLOOR
        count_nll = 0.5 * ops.log(2 * math.pi * var) + ops.square(emitters - mean) / (2 * var)
        # pixel centres, px, in the flattened (row-major) order
        cols = ops.cast(ops.arange(width), p.dtype) + 0.5
        rows = ops.cast(ops.arange(height), p.dtype) + 0.5
        x_c = ops.reshape(ops.broadcast_to(cols[None, :], (height, width)), (-1,))
        y_c = ops.reshape(ops.broadcast_to(rows[:, None], (height, width)), (-1,))
        k = self.max_emitters if size is None else min(self.max_emitters, size)
        occupied, index = ops.top_k(occ, k=k)

        def at(values: Any) -> Any:  # (N, HW) -> (N, k, 1), the emitters' values
            return ops.take_along_axis(values, index, axis=1)[:, :, None]

        z = 4 if is_3d else None
        sig = 5 if is_3d else 4
        true = [at(x_c + truth[..., 2]), at(y_c + truth[..., 3]), at(truth[..., 1])]
        means = [x_c + flat[..., 2], y_c + flat[..., 3], flat[..., 1]]
        sigmas = [flat[..., sig + 1], flat[..., sig + 2], flat[..., sig]]
        if z is not None:
            true.append(at(truth[..., z]))
            means.append(flat[..., z])
            sigmas.append(flat[..., sig + 3])
        log_pdf = -0.5 * len(true) * math.log(2 * math.pi)
        for t, mu, sigma in zip(true, means, sigmas):
            sigma = ops.maximum(sigma, SIGMA_MIN)[:, None, :]
            log_pdf = log_pdf - 0.5 * ops.square((t - mu[:, None, :]) / sigma) - ops.log(sigma)
        log_w = ops.log(p) - ops.log(mean)[:, None]
        per_emitter = ops.logsumexp(log_w[:, None, :] + log_pdf, axis=2)
        mixture = -ops.sum(ops.where(occupied > 0.5, per_emitter, 0.0), axis=1)
        background = ops.mean(ops.square(flat[..., -1] - truth[..., -1]), axis=1)
        return {"detection": detection, "mixture": mixture, "count_nll": count_nll,
                "background": background}

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-sample loss ``(N,)``."""
        t = self.terms(y_true, y_pred)
        return (self.detection_weight * t["detection"]
                + self.count_weight * (t["mixture"] + t["count_nll"])
                + self.background_weight * t["background"])

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, for saving."""
        config = super().get_config()
        config.update(is_3d=self.is_3d, max_emitters=self.max_emitters,
                      detection_weight=self.detection_weight, count_weight=self.count_weight,
                      background_weight=self.background_weight)
        return config


def locnet_loss(is_3d: bool | None = None, max_emitters: int = DEFAULT_MAX_EMITTERS, *,
                detection_weight: float = DETECTION_WEIGHT, count_weight: float = 1.0,
                background_weight: float = 1.0) -> LocNetLoss:
    """The locnet loss (:class:`LocNetLoss`) with its parameters checked.

    Raises
    ------
    InputError
        For ``max_emitters`` < 1 or a negative weight.
    """
    return LocNetLoss(is_3d, max_emitters, detection_weight=detection_weight,
                      count_weight=count_weight, background_weight=background_weight)


LOSSES = {"mse": mse, "blurred-mse": blurred_mse_l1, "poisson": poisson_counts,
          "locnet": locnet_loss, "deepstorm3d": deepstorm3d_loss}
#: The losses built from parameters (the others are plain functions and take none).
_FACTORIES = ("blurred-mse", "locnet", "deepstorm3d")


def get_loss(name: str, **params: Any) -> Any:
    """A loss by its command-line name: ``"mse"``, ``"blurred-mse"``, ``"poisson"``, ``"locnet"``.

    Parameters
    ----------
    name : str
        Key of :data:`LOSSES`.
    **params
        ``sigma_px`` and ``l1_weight`` for ``"blurred-mse"``; those of :class:`LocNetLoss`
        for ``"locnet"``; none for the others.

    Returns
    -------
    callable or keras.losses.Loss
    """
    if name not in LOSSES:
        raise InputError(f"unknown loss {name!r}", hint=f"choose one of {', '.join(LOSSES)}")
    if name in _FACTORIES:
        return LOSSES[name](**params)
    if params:
        raise InputError(f"loss {name!r} takes no parameters, got {', '.join(params)}")
    return LOSSES[name]
