"""Training settings, their checks, and which patch sets each model trains on.

Defaults follow the seeds: Adam at 1e-3 (Keras and Deep-STORM), batch 16 (Deep-STORM),
ReduceLROnPlateau and EarlyStopping on the validation loss (seed 001 uses patience 4 for
both; smlmscale waits 10 epochs before stopping, since a killed job resumes anyway).
The defaults that depend on the model (loss, target scale) and the patch sets a model
trains on are in its record (:data:`smlmscale.models.kinds.MODEL_KINDS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smlmscale.errors import InputError
from smlmscale.models.kinds import LOSS_NAMES, MODEL_KINDS, model_kind, models_for
from smlmscale.settings import Settings, flag_of, setting

#: Bytes of patch data the input stream may hold at once, by default (1 GiB).
DEFAULT_BUDGET = 1 << 30


def _model_help() -> str:
    kinds = [f"{k.name} ({'/'.join(k.generators)} patches)" for k in MODEL_KINDS.values()]
    return "Model to train: " + ", ".join(kinds)


def _by_model(attribute: str) -> str:
    """``"mse; autoencoder blurred-mse; counts poisson"``: a default per model, from the records."""
    texts = [(k.name, f"{v:g}" if isinstance(v := getattr(k, attribute), float) else str(v))
             for k in MODEL_KINDS.values()]
    first = texts[0][1]
    return "; ".join([first, *(f"{name} {text}" for name, text in texts[1:] if text != first)])


def _options_text(option: str) -> str:
    """``"locnet 24; deepstorm3d 64"``: an option's default for each model that reads it."""
    return "; ".join(f"{k.name} {k.options[option]:g}" for k in MODEL_KINDS.values()
                     if option in k.options)


@dataclass(frozen=True)
class TrainSettings(Settings):
    """How to train a model on a patch set.

    Attributes
    ----------
    model : str
        A registered model kind (:data:`~smlmscale.models.kinds.MODEL_KINDS`).
    epochs : int
        Last epoch to train to (a resumed run continues up to it).
    batch_size : int
        Patches per step (the global batch, split across GPUs).
    lr : float or None
        Initial learning rate of Adam; None for the model kind's
        (:attr:`~smlmscale.models.kinds.ModelKind.lr`), which the settings then hold.
    loss : str or None
        ``mse``, ``blurred-mse`` or ``poisson``; None for the model's default.
    target_scale : float or None
        Factor applied to the targets during training (the model's output is in these
        units; ``smlmscale.json`` records it); None for the model's default.
    target_sigma_px : float
        Blur of ``blurred-mse``, in target pixels.
    l1_weight : float
        Weight of the L1 term of ``blurred-mse`` (DSIR uses a small one).
    augment : bool
        Random flips and quarter turns, as the patch geometry allows.
    seed : int
        Seed of the weights' initialization, the shuffles and the augmentation.
    patience : int
        Epochs without improvement before stopping early.
    lr_patience : int
        Epochs without improvement before the learning rate is reduced.
    lr_factor : float
        Factor applied to the learning rate on a plateau, in (0, 1).
    min_lr : float
        Lowest learning rate.
    lr_schedule : {"plateau", "cosine", "anneal"}
        ``plateau``: multiply the rate by ``lr_factor`` after ``lr_patience`` epochs
        without improvement; ``cosine``: decay it from ``lr`` to ``min_lr`` along half a
        cosine over the ``epochs``, set at the start of each epoch; ``anneal``: hold
        ``lr``, then decay it linearly to ``min_lr`` over the last quarter of the
        ``epochs``, batch by batch (:func:`~smlmscale.train.callbacks.anneal_lr`). The
        last two are for a fixed training budget, such as ``--simulate``'s fresh data.
    memory_budget : int
        Bytes of patch data the input stream may hold at once.
    mixed_precision : bool
        float16 compute with float32 weights (needs a GPU).
    precision : str
        ``auto``, ``float32`` or ``bfloat16``: the arithmetic of training without
        ``mixed_precision`` (:func:`smlmscale.train.devices.train_arithmetic`; ``auto``:
        bfloat16 for a 2D locnet on a CPU that computes it natively, else float32).
    steps_per_epoch : int or None
        Batches per epoch of ``--simulate`` training (None: 500); a patch-set epoch is one
        pass over its training split.
    dilation_max, scaling_factor : int, float or None
        deepstorm3d only (its record's ``options``; None: the model's default): the
        largest dilation (16 or 4, the seed's ``dilation_flag``) and the spike of one
        emitter in the output grid (the seed's ``scaling_factor``). Given for another
        model, they are refused.
    filters : int or None
        deepstorm3d and locnet (None: the model's default, 64 and 24): the feature maps
        of deepstorm3d's convolutions, or of locnet's full-resolution level (doubled per
        pooling level). Refused for the other models.
    learn_mask : bool
        deepstorm3d only: learn the phase mask jointly with the CNN, imaging the patch
        set's emitters through ``psf`` (the seed's ``learn_mask``;
        :mod:`smlmscale.train.mask_learning`).
    psf : str or None
        The PSF file (a pupil model) of ``learn_mask``: optics and starting mask.
    """

    model: str = setting("deepstorm", help=_model_help())
    epochs: int = setting(50, min=1, help="Train up to this epoch")
    batch_size: int = setting(16, min=1, help="Patches per step, split across GPUs")
    lr: float | None = setting(None, min=0, min_open=True, default_text=_by_model("lr"),
                               help="Initial learning rate of Adam")
    loss: str | None = setting(None, help="Loss: " + ", ".join(LOSS_NAMES),
                               default_text=_by_model("loss"))
    target_scale: float | None = setting(None, min=0, min_open=True,
                                         help="Factor applied to the targets",
                                         default_text=_by_model("target_scale"))
    target_sigma_px: float = setting(1.0, min=0, min_open=True, unit="target px",
                                     help="Blur of blurred-mse")
    l1_weight: float = setting(0.0, help="Weight of the L1 term of blurred-mse")
    augment: bool = setting(True, help="Random flips and quarter turns, as the patch "
                                       "geometry allows")
    seed: int = setting(0, min=0, help="Seeds the initial weights, the shuffles and the "
                                       "augmentation")
    patience: int = setting(10, min=1, help="Epochs without improvement before stopping "
                                            "early")
    lr_patience: int = setting(4, min=1, help="Epochs without improvement before the "
                                              "learning rate is reduced")
    lr_factor: float = setting(0.5, min=0, max=1, min_open=True, max_open=True,
                               help="Learning-rate factor on a plateau, in (0, 1)")
    min_lr: float = setting(1e-6, min=0, min_open=True, help="Lowest learning rate")
    lr_schedule: str = setting("plateau", choices=("plateau", "cosine", "anneal"),
                               help="plateau: reduce on a plateau (--lr-patience, "
                                    "--lr-factor); cosine: decay to --min-lr over --epochs; "
                                    "anneal: hold --lr, then decay linearly to --min-lr over "
                                    "the last quarter of --epochs")
    memory_budget: int = setting(DEFAULT_BUDGET, min=1,
                                 default_text=f"{DEFAULT_BUDGET // 2**30}GiB",
                                 help="Patch data the input stream may hold at once, "
                                      "a size such as 512MiB (bytes in Python)")
    mixed_precision: bool = setting(False, help="float16 compute with float32 weights "
                                                "(needs a GPU)")
    precision: str = setting("auto", choices=("auto", "float32", "bfloat16"),
                             help="Arithmetic without --mixed-precision: bfloat16 (float32 "
                                  "weights and heads) where the CPU has it natively; auto "
                                  "picks it there for a 2D locnet, else float32")
    steps_per_epoch: int | None = setting(None, min=1, default_text="500 with --simulate",
                                          help="Batches per epoch of simulated data "
                                               "(--simulate only)")
    dilation_max: int | None = setting(None, choices=(4, 16), default_text="16",
                                       help="deepstorm3d: largest dilation of the "
                                            "camera-resolution layers, 16 or 4")
    scaling_factor: float | None = setting(None, min=0, min_open=True, default_text="800",
                                           help="deepstorm3d: the spike of one emitter in "
                                                "the voxel grid (the output's maximum)")
    filters: int | None = setting(None, min=1, default_text=_options_text("filters"),
                                  help="deepstorm3d, locnet: feature maps of the "
                                       "convolutions (locnet: of its full-resolution level)")
    learn_mask: bool = setting(False, help="deepstorm3d: learn the phase mask with the CNN, "
                                           "imaging the patch set's emitters through --psf")
    psf: str | None = setting(None, help="--learn-mask: PSF file (smlmscale psf) giving the "
                                         "optics and the starting mask")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.model not in MODEL_KINDS:
            raise InputError(f"unknown model {self.model!r}", param="model",
                             hint=f"choose one of {', '.join(MODEL_KINDS)}")
        if not self.l1_weight >= 0:
            raise InputError(f"{{flag}} must be >= 0, got {self.l1_weight}", param="l1_weight",
                             flag=flag_of(self, "l1_weight"))
        if self.loss is not None and self.loss not in LOSS_NAMES:
            raise InputError(f"unknown loss {self.loss!r}", param="loss",
                             hint=f"choose one of {', '.join(LOSS_NAMES)}")
        self._check_model_fields()
        if self.lr is None:
            object.__setattr__(self, "lr", float(model_kind(self.model).lr))
        if self.learn_mask and self.model != "deepstorm3d":
            raise InputError(f"--learn-mask applies to --model deepstorm3d, not {self.model}",
                             param="learn_mask", hint="leave it out, or train deepstorm3d")
        if self.learn_mask and self.psf is None:
            raise InputError("--learn-mask needs --psf FILE: the optics and the starting mask",
                             param="psf", hint="make one with smlmscale psf (leave out --mask "
                                               "to start from a clear pupil, as the seed does)")
        if self.psf is not None and not self.learn_mask:
            raise InputError("--psf applies to --learn-mask only", param="psf",
                             hint="add --learn-mask, or leave --psf out")

    def _check_model_fields(self) -> None:
        """Refuse options of another model kind, a fixed loss for another kind, another
        loss for a kind with a fixed one, and target scales of sparse targets."""
        kind = model_kind(self.model)
        for name in (n for k in MODEL_KINDS.values() for n in k.options):
            if getattr(self, name) is not None and name not in kind.options:
                raise InputError(f"{{flag}} does not apply to --model {self.model}",
                                 param=name, flag=flag_of(self, name),
                                 hint="leave it out; see smlmscale train --help")
        owner = next((k.name for k in MODEL_KINDS.values()
                      if k.fixed_loss and k.loss == self.loss), None)
        if self.loss is not None and (kind.fixed_loss and self.loss != kind.loss
                                      or owner not in (None, self.model)):
            fits = kind.loss if kind.fixed_loss else "another loss"
            raise InputError(f"--loss {self.loss} does not train --model {self.model}",
                             param="loss", hint=f"leave out --loss, or pass {fits}")
        if kind.fixed_loss and self.target_scale is not None:
            raise InputError(f"{{flag}} does not apply to --model {self.model}",
                             param="target_scale", flag=flag_of(self, "target_scale"),
                             hint="its targets are emitter maps; see --scaling-factor")

    @property
    def loss_name(self) -> str:
        """The loss used: the one given or the model's default."""
        return self.loss or model_kind(self.model).loss

    @property
    def scale(self) -> float:
        """The target scale used: the one given or the model's default."""
        return float(self.target_scale or model_kind(self.model).target_scale)

    def model_options(self) -> dict[str, Any]:
        """The model's own options (its record's ``options``), given or default."""
        kind = model_kind(self.model)
        return {name: getattr(self, name) if getattr(self, name) is not None else default
                for name, default in kind.options.items()}

    def loss_params(self) -> dict[str, float]:
        """Parameters of the loss (only ``blurred-mse`` has any)."""
        if self.loss_name == "blurred-mse":
            return {"sigma_px": self.target_sigma_px, "l1_weight": self.l1_weight}
        return {}

    def merged(self, given: Mapping[str, Any], *, changeable: Sequence[str] = ("epochs",)
               ) -> TrainSettings:
        """These (stored) settings with ``given`` ones applied, for a resumed run.

        Parameters
        ----------
        given : mapping
            Field names to values (None values ignored).
        changeable : sequence of str
            The fields that may differ from the stored ones.

        Raises
        ------
        InputError
            When a given setting other than ``changeable`` differs from the stored one,
            or a given value is refused.
        """
        wanted = self.replace(**{k: v for k, v in given.items() if v is not None})
        for name in self.diff(wanted):
            if name not in changeable:
                raise InputError(
                    f"{{flag}} {getattr(wanted, name)} differs from the interrupted run's "
                    f"{getattr(self, name)}; a resumed run keeps its settings", param=name,
                    flag=flag_of(self, name),
                    hint="leave the option out, or start again with --overwrite")
        return wanted


def check_generator(model: str, generator: str | None, path: str) -> None:
    """Refuse a patch set made by a generator the model does not train on.

    Raises
    ------
    InputError
        With the generators the model accepts and the model that fits the patch set.
    """
    accepted = model_kind(model).generators
    if generator in accepted:
        return
    fits = models_for(generator)
    hint = (f"train --model {' or '.join(fits)} on it" if fits else
            "make patches with smlmscale patches --kind " + "|".join(accepted))
    raise InputError(f"a {model} model trains on {' or '.join(accepted)} patches, "
                     f"but this patch set holds {generator or 'unknown'} patches",
                     path=path, hint=hint)


__all__ = ["DEFAULT_BUDGET", "TrainSettings", "check_generator"]
