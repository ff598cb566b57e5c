"""The model kinds smlmscale trains: one record each, registered in :data:`MODEL_KINDS`.

A :class:`ModelKind` says everything the rest of the package needs to know about a kind
of model: the patch generators it trains on, its default loss and target scale, the
patch geometry it accepts and the builder of its architecture
(:mod:`~smlmscale.models.architectures`). Training, the CLI help and the checks read the
records; adding a model is adding a record here. Nothing here imports ``keras``: the
geometry is checked from the record alone, and the builder runs only in :meth:`ModelKind.build`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from smlmscale.errors import InputError
from smlmscale.models import architectures as arch

#: Loss names of ``--loss`` (:data:`smlmscale.models.losses.LOSSES` holds the functions).
LOSS_NAMES = ("mse", "blurred-mse", "poisson")


@dataclass(frozen=True)
class ModelKind:
    """One kind of model: what it trains on, how it trains by default, how it is built.

    Attributes
    ----------
    name : str
        ``--model`` value and ``smlmscale.json`` ``model``.
    generators : tuple of str
        Patch generators (``smlmscale patches --kind``) whose patch sets it trains on.
    loss : str
        Default loss, one of :data:`LOSS_NAMES`.
    target_scale : float
        Default factor applied to the targets in training (Deep-STORM multiplies its
        heatmaps by 100, its "L2 weighting factor", so the loss is not dominated by the
        empty background; count targets keep their unit).
    builder : callable
        ``builder(input_shape, *, out_channels)`` -> uncompiled ``keras.Model``.
    factor : int
        Patch height and width must be multiples of it, in px.
    channels : tuple of int or None
        Input channel counts accepted; any when None.
    summary : str
        A few words for the help.
    """

    name: str
    generators: tuple[str, ...]
    loss: str
    target_scale: float
    builder: Callable[..., Any]
    factor: int = 1
    channels: tuple[int, ...] | None = None
    summary: str = ""

    def check_geometry(self, input_shape: Sequence[int], target_shape: Sequence[int]
                       ) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """Check patch and target shapes without building the model (no ``keras``).

        Every architecture keeps the patch size, so the targets must have the inputs'
        height and width.

        Returns
        -------
        tuple
            ``(H, W, C)`` of the inputs and ``(H', W', C')`` of the targets.

        Raises
        ------
        InputError
            A bad input geometry, a target that is not ``(H, W, C)``, or targets of
            another size than the inputs.
        """
        shape = arch.check_input_shape(input_shape, model=self.name, factor=self.factor,
                                       channels=self.channels)
        target = arch.three_ints(target_shape, model=self.name, what="target")
        self._check_output(shape, (*shape[:2], target[2]), target)
        return shape, target

    def build(self, input_shape: Sequence[int], target_shape: Sequence[int]) -> Any:
        """The model for a patch set, checked to produce the targets' shape.

        Returns
        -------
        keras.Model
            Uncompiled, output ``(None, H', W', C')``.
        """
        shape, target = self.check_geometry(input_shape, target_shape)
        model = self.builder(shape, out_channels=target[-1])
        self._check_output(shape, tuple(model.output_shape[1:]), target)
        return model

    def _check_output(self, shape: tuple, output: tuple, target: tuple) -> None:
        if tuple(output) != tuple(target):
            raise InputError(f"{self.name} model maps inputs {shape} to {tuple(output)}, "
                             f"but the targets are {tuple(target)}",
                             hint="use a patch set made for this model (same input and "
                                  "target size)")


def _registry(*kinds: ModelKind) -> dict[str, ModelKind]:
    return {kind.name: kind for kind in kinds}


#: Every model kind, by name: the one place a model is registered.
MODEL_KINDS: dict[str, ModelKind] = _registry(
    ModelKind("deepstorm", ("deepstorm", "summed"), loss="mse", target_scale=100.0,
              builder=arch.build_deepstorm, factor=arch.POOLED,
              summary="Deep-STORM encoder-decoder"),
    ModelKind("autoencoder", ("deepstorm", "summed"), loss="blurred-mse", target_scale=100.0,
              builder=arch.build_autoencoder, factor=arch.POOLED,
              summary="DSIR auto-encoder"),
    ModelKind("unet", ("fusion",), loss="mse", target_scale=1.0, builder=arch.build_unet,
              factor=arch.POOLED, summary="U-Net of fusion patches"),
    ModelKind("counts", ("counts",), loss="poisson", target_scale=1.0,
              builder=arch.build_counts, channels=arch.COUNTS_CHANNELS,
              summary="per-pixel counts of rendered tiles"),
)

#: Name -> architecture builder (``builder(input_shape, *, out_channels=1)``).
MODELS: dict[str, Callable[..., Any]] = {name: k.builder for name, k in MODEL_KINDS.items()}


def model_kind(name: str) -> ModelKind:
    """The record of model kind ``name``.

    Raises
    ------
    InputError
        For a name that is not registered.
    """
    try:
        return MODEL_KINDS[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown model kind {name!r}",
                         hint=f"choose one of {', '.join(MODEL_KINDS)}") from None


def build_model(kind: str, input_shape: Sequence[int], target_shape: Sequence[int]) -> Any:
    """Build a registered model for a patch set and check it produces the targets' shape.

    Parameters
    ----------
    kind : str
        A key of :data:`MODEL_KINDS`: ``"deepstorm"``, ``"unet"``, ``"autoencoder"`` or
        ``"counts"``.
    input_shape : sequence of int
        ``(H, W, C)`` of the patch-set inputs (without N).
    target_shape : sequence of int
        ``(H', W', C')`` of the patch-set targets; C' sets the output channels.

    Returns
    -------
    keras.Model
        Uncompiled, output ``(None, H', W', C')``.

    Raises
    ------
    InputError
        For an unknown kind, a bad input geometry, or targets of another shape than
        the model's output.
    """
    return model_kind(kind).build(input_shape, target_shape)


def models_for(generator: str | None) -> list[str]:
    """Names of the model kinds that train on patches of ``generator``."""
    return [name for name, kind in MODEL_KINDS.items() if generator in kind.generators]


__all__ = ["LOSS_NAMES", "MODELS", "MODEL_KINDS", "ModelKind", "build_model", "model_kind",
           "models_for"]
