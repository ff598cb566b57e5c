"""Keras 3 models of the seeds, their records and their training losses.

:mod:`~smlmscale.models.kinds` holds one record per model kind (:data:`MODEL_KINDS`: the
patch generators it trains on, its default loss and target scale, its geometry and
builder); :mod:`~smlmscale.models.architectures` builds ``deepstorm``, ``unet``,
``autoencoder`` and ``counts`` networks with their patch geometry checked and
:mod:`~smlmscale.models.locnet` the DECODE-like ``locnet`` (``keras`` imported on first
build);
:mod:`~smlmscale.models.losses` holds MSE, blurred MSE + L1, the Poisson count loss and
the locnet loss,
registered for safe-mode loading. The losses import ``keras`` and are loaded lazily, on
first access to one of their names.
"""

from __future__ import annotations

from typing import Any

from smlmscale.models.architectures import (
    build_autoencoder,
    build_counts,
    build_deepstorm,
    build_unet,
)
from smlmscale.models.kinds import MODEL_KINDS, MODELS, ModelKind, build_model, model_kind
from smlmscale.models.locnet import build_locnet

_LOSS_NAMES = ("BlurredMSEL1", "LOSSES", "LocNetLoss", "blurred_mse_l1", "get_loss",
               "locnet_loss", "mse", "poisson_counts")

__all__ = ["MODELS", "MODEL_KINDS", "ModelKind", "build_autoencoder", "build_counts",
           "build_deepstorm", "build_locnet", "build_model", "build_unet", "model_kind",
           *_LOSS_NAMES]


def __getattr__(name: str) -> Any:
    if name in _LOSS_NAMES:
        from smlmscale.models import losses

        return getattr(losses, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
