"""The model kinds smlmscale trains: one record each, registered in :data:`MODEL_KINDS`.

A :class:`ModelKind` says everything the rest of the package needs to know about a kind
of model: the patch generators it trains on, its default loss and target scale, the
patch geometry it accepts and the builder of its architecture
(:mod:`~smlmscale.models.architectures`). Training, the CLI help and the checks read the
records; adding a model is adding a record here. Nothing here imports ``keras``: the
geometry is checked from the record alone, and the builder runs only in :meth:`ModelKind.build`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smlmscale.errors import InputError
from smlmscale.models import architectures as arch
from smlmscale.models import deepstorm3d, locnet
from smlmscale.models.locnet_layout import pooling_factor

#: Loss names of ``--loss`` (:data:`smlmscale.models.losses.LOSSES` holds the functions).
LOSS_NAMES = ("mse", "blurred-mse", "poisson", "locnet", "deepstorm3d")


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
        ``builder(input_shape, **kwargs)`` -> uncompiled ``keras.Model``; the keyword
        arguments are ``out_channels`` (the targets' channels) unless ``configure`` is set.
    factor : int
        Patch height and width must be multiples of it, in px.
    channels : tuple of int or None
        Input channel counts accepted; any when None.
    summary : str
        A few words for the help.
    output_channels : callable or None
        ``output_channels(target_channels) -> int``: the model's output channels for the
        targets' channels (raising :class:`InputError` for targets it cannot train on);
        None when the output has the targets' shape.
    configure : callable or None
        ``configure(params, input_shape, target_shape) -> dict``: the builder's keyword
        arguments from ``params`` (the patch set's attributes); None for
        ``{"out_channels": target_shape[2]}``.
    loss_params : callable or None
        ``loss_params(attrs) -> dict``: parameters of the default loss that the patch set
        decides (locnet: the most emitters of a patch); None for none.
    options : mapping
        Training options only this kind reads (``train --dilation-max`` ...), name ->
        default; given values are merged into the ``params`` that ``configure``,
        ``loss_params`` and ``output_geometry`` read.
    output_geometry : callable or None
        ``output_geometry(input_shape, target_shape, params) -> (H', W', C')``: the output
        the model must give, for models whose output is not on the targets' grid
        (deepstorm3d: sparse targets, a voxel-grid output); raises :class:`InputError` for
        targets it cannot train on. None: the targets' size and ``output_channels``.
    fixed_loss : bool
        The kind trains with its own loss only, and that loss fits no other kind.
    lr : float
        Default initial learning rate of Adam (``train --lr``).
    """

    name: str
    generators: tuple[str, ...]
    loss: str
    target_scale: float
    builder: Callable[..., Any]
    factor: int = 1
    channels: tuple[int, ...] | None = None
    summary: str = ""
    output_channels: Callable[[int], int] | None = None
    configure: Callable[..., dict[str, Any]] | None = None
    loss_params: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    output_geometry: Callable[..., tuple[int, int, int]] | None = None
    fixed_loss: bool = False
    lr: float = 1e-3

    def data_loss_params(self, attrs: Mapping[str, Any] | None) -> dict[str, Any]:
        """Parameters of the default loss from a patch set's attributes."""
        return {} if self.loss_params is None else self.loss_params(dict(attrs or {}))

    def check_geometry(self, input_shape: Sequence[int], target_shape: Sequence[int],
                       params: Mapping[str, Any] | None = None
                       ) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """Check patch and target shapes without building the model (no ``keras``).

        Every architecture but deepstorm3d keeps the patch size, so the targets must have
        the inputs' height and width; the output has the targets' channels, or those
        ``output_channels`` gives. With ``output_geometry``, that function decides (from
        ``params``, the patch set's attributes).

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
        if self.output_geometry is not None:
            self.output_geometry(shape, target, params)
        else:
            self._check_output(shape, (*shape[:2], self._channels(target)), target)
        return shape, target

    def build(self, input_shape: Sequence[int], target_shape: Sequence[int], *,
              params: Mapping[str, Any] | None = None) -> Any:
        """The model for a patch set, checked to produce the output the targets need.

        Parameters
        ----------
        input_shape, target_shape : sequence of int
            ``(H, W, C)`` and ``(H', W', C')`` of the patch set.
        params : mapping, optional
            The patch set's attributes, read by ``configure`` (locnet: its head constants,
            see :func:`smlmscale.models.locnet.builder_kwargs`); ignored by the others.

        Returns
        -------
        keras.Model
            Uncompiled, output ``(None, H', W', C_out)``.
        """
        shape, target = self.check_geometry(input_shape, target_shape, params)
        kwargs = (self.configure(params, shape, target) if self.configure is not None
                  else {"out_channels": target[2]})
        model = self.builder(shape, **kwargs)
        self._check_output(shape, tuple(model.output_shape[1:]), target, params)
        return model

    def _channels(self, target: tuple) -> int:
        if self.output_channels is None:
            return target[2]
        return self.output_channels(target[2])

    def _check_output(self, shape: tuple, output: tuple, target: tuple,
                      params: Mapping[str, Any] | None = None) -> None:
        needed = (tuple(self.output_geometry(shape, target, params))
                  if self.output_geometry is not None else (*target[:2], self._channels(target)))
        if tuple(output) != needed:
            extra = "" if needed == tuple(target) else f", which need an output of {needed}"
            raise InputError(f"{self.name} model maps inputs {shape} to {tuple(output)}, "
                             f"but the targets are {tuple(target)}{extra}",
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
    ModelKind("locnet", ("frames",), loss="locnet", target_scale=1.0, builder=locnet.build_locnet,
              factor=pooling_factor(locnet.DEFAULT_DEPTH),
              channels=locnet.CONTEXTS, output_channels=locnet.output_channels,
              configure=locnet.builder_kwargs, loss_params=locnet.loss_params,
              options=locnet.OPTIONS,
              summary="DECODE-like localization network at camera resolution",
              lr=locnet.DEFAULT_LR),
    ModelKind("deepstorm3d", ("deepstorm3d",), loss="deepstorm3d", target_scale=1.0,
              builder=deepstorm3d.build_deepstorm3d, channels=(1,),
              configure=deepstorm3d.builder_kwargs, loss_params=deepstorm3d.loss_params,
              options=deepstorm3d.OPTIONS, output_geometry=deepstorm3d.output_geometry,
              fixed_loss=True,
              summary="Deep-STORM3D: one camera frame in, a 3D voxel grid out"),
)

#: Name -> architecture builder (``builder(input_shape, *, out_channels=1)``; locnet's
#: takes its head constants instead, :func:`smlmscale.models.locnet.build_locnet`).
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


def build_model(kind: str, input_shape: Sequence[int], target_shape: Sequence[int], *,
                params: Mapping[str, Any] | None = None) -> Any:
    """Build a registered model for a patch set and check it produces the output it needs.

    Parameters
    ----------
    kind : str
        A key of :data:`MODEL_KINDS`: ``"deepstorm"``, ``"unet"``, ``"autoencoder"``,
        ``"counts"``, ``"locnet"`` or ``"deepstorm3d"``.
    input_shape : sequence of int
        ``(H, W, C)`` of the patch-set inputs (without N).
    target_shape : sequence of int
        ``(H', W', C')`` of the patch-set targets; C' sets the output channels (locnet:
        5 -> 8, 6 -> 10).
    params : mapping, optional
        The patch set's attributes (see :meth:`ModelKind.build`).

    Returns
    -------
    keras.Model
        Uncompiled, output ``(None, H', W', C_out)``.

    Raises
    ------
    InputError
        For an unknown kind, a bad input geometry, or targets of another shape than
        the model's output.
    """
    return model_kind(kind).build(input_shape, target_shape, params=params)


def has_z_head(kind: str, target_shape: Sequence[int]) -> bool:
    """Whether a ``kind`` model trained on targets of ``target_shape`` regresses z
    (a locnet on ``frames`` targets with z)."""
    return kind == "locnet" and locnet.TARGET_CHANNELS.get(int(target_shape[-1]), False)


def models_for(generator: str | None) -> list[str]:
    """Names of the model kinds that train on patches of ``generator``."""
    return [name for name, kind in MODEL_KINDS.items() if generator in kind.generators]


__all__ = ["LOSS_NAMES", "MODELS", "MODEL_KINDS", "ModelKind", "build_model", "has_z_head",
           "model_kind", "models_for"]
