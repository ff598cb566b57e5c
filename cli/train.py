"""``smlmscale train PATCHES.zarr -o MODEL``: train a model on a patch set, resumably.

``smlmscale train --simulate PARAMS.yaml -o MODEL --model locnet`` trains instead on
data simulated on the fly (:mod:`smlmscale.train.simulated`; the YAML's fields are
:class:`~smlmscale.train.simparams.SimTrainSettings`), ``--steps-per-epoch`` batches an
epoch; exactly one of PATCHES.zarr and ``--simulate`` is given.

Training runs in this process (tf.data reads the patch set chunk by chunk; several
visible GPUs are used through a MirroredStrategy): no Dask cluster is started, and the
global cluster options do not apply.

Every settings option is named as its :class:`~smlmscale.train.settings.TrainSettings`
field, with its help and default from the field, and defaults to ``None`` here, meaning
"not given": a new run takes the field's default for it, and ``--resume`` can tell an
option the user repeated from one they changed (only ``--epochs`` may change). All checks
are :func:`~smlmscale.train.prepare.prepare_train`'s, made before TensorFlow trains.

Unless ``--debug`` is given, TensorFlow's C++ log lines are silenced
(``TF_CPP_MIN_LOG_LEVEL=3``, when the variable is not set already).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from smlmscale.cli._app import app
from smlmscale.cli._options import command_line, given_settings, global_options, say
from smlmscale.cli._options import settings_option as _opt
from smlmscale.errors import InputError
from smlmscale.train.settings import TrainSettings as _S

_MODEL = "Model"
_SCHEDULE = "Schedule"
_LOSS = "Loss"
_INPUT = "Input stream"


def parse_budget(text: str | None) -> int | None:
    """``--memory-budget`` text (``"512MiB"``, ``"2GB"``) -> bytes; None when not given.

    Raises
    ------
    InputError
        Text that is not a size, or a size below one byte.

    Examples
    --------
    >>> parse_budget("512MiB")
    536870912
    >>> parse_budget(None) is None
    True
    """
    if text is None:
        return None
    from dask.utils import parse_bytes

    try:
        value = parse_bytes(text.strip())
    except (ValueError, TypeError):
        value = None
    if value is None or value < 1:
        raise InputError(f"--memory-budget must be a size such as 512MiB or 2GB, got {text!r}")
    return int(value)


def _number(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.4g}"


def epoch_line(epoch: int, epochs: int, logs: dict[str, Any]) -> str:
    """One line per epoch: losses, learning rate and duration.

    Examples
    --------
    >>> epoch_line(3, 50, {"loss": 0.01234, "val_loss": 0.011, "learning_rate": 0.001,
    ...                    "seconds": 4.81})
    'epoch 3/50: loss 0.01234, val_loss 0.011, lr 0.001, 4.8 s'
    """
    parts = [f"loss {_number(logs.get('loss'))}"]
    if "val_loss" in logs:
        parts.append(f"val_loss {_number(logs.get('val_loss'))}")
    if "learning_rate" in logs:
        parts.append(f"lr {_number(logs.get('learning_rate'))}")
    seconds = logs.get("seconds")
    if seconds is not None:
        parts.append(f"{seconds:.1f} s")
    return f"epoch {epoch}/{epochs}: " + ", ".join(parts)


def summary_lines(result: Any) -> list[str]:
    """The lines printed once training is done (a :class:`TrainResult`)."""
    ran = f"{result.epochs_run} epoch{'s' if result.epochs_run != 1 else ''}"
    extra = []
    if result.initial_epoch:
        extra.append(f"resumed at epoch {result.initial_epoch}")
    if result.stopped_early:
        extra.append(f"stopped early, {result.settings.epochs} planned")
    if extra:
        ran += f" ({'; '.join(extra)})"
    lines = [
        f"wrote {result.path}: {result.settings.model} model, {ran}, trained "
        f"{result.seconds:.1f} s on {result.device}",
        f"best epoch {result.best_epoch}: {result.monitor} {_number(result.best)} "
        f"(first epoch {_number(result.first)})",
        f"training curve: {result.curve}",
    ]
    lines += [f"note: {note}" for note in result.notes]
    return lines


@app.command("train")
def train_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="MODEL_DIR", help="Model folder to write (model.keras, "
        "smlmscale.json, history.csv, training_curve.png, checkpoints/).", show_default=False)],
    patches: Annotated[Optional[Path], typer.Argument(
        metavar="PATCHES.zarr", help="Patch set from smlmscale patches (or --simulate).",
        show_default=False)] = None,
    simulate: Annotated[Optional[Path], typer.Option(
        "--simulate", metavar="PARAMS.yaml", help="Train locnet on data simulated on the fly "
        "with the ranges of this YAML file, instead of a patch set.",
        show_default=False)] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the interrupted run in MODEL_DIR.partial from its last "
                         "checkpoint; only --epochs may change.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing model folder once the new one is complete, "
                            "discarding an interrupted run.")] = False,
    model: Annotated[Optional[str], _opt(_S, "model", panel=_MODEL)] = None,
    dilation_max: Annotated[Optional[int], _opt(_S, "dilation_max", panel=_MODEL)] = None,
    scaling_factor: Annotated[Optional[float], _opt(_S, "scaling_factor", panel=_MODEL)
                              ] = None,
    filters: Annotated[Optional[int], _opt(_S, "filters", panel=_MODEL)] = None,
    learn_mask: Annotated[Optional[bool], _opt(_S, "learn_mask", "--learn-mask",
                                               panel=_MODEL)] = None,
    psf: Annotated[Optional[str], _opt(_S, "psf", panel=_MODEL, metavar="PSF.zarr")] = None,
    epochs: Annotated[Optional[int], _opt(_S, "epochs", panel=_SCHEDULE)] = None,
    batch_size: Annotated[Optional[int], _opt(_S, "batch_size", panel=_SCHEDULE)] = None,
    lr: Annotated[Optional[float], _opt(_S, "lr", panel=_SCHEDULE)] = None,
    patience: Annotated[Optional[int], _opt(_S, "patience", panel=_SCHEDULE)] = None,
    lr_patience: Annotated[Optional[int], _opt(_S, "lr_patience", panel=_SCHEDULE)] = None,
    lr_factor: Annotated[Optional[float], _opt(_S, "lr_factor", panel=_SCHEDULE)] = None,
    min_lr: Annotated[Optional[float], _opt(_S, "min_lr", panel=_SCHEDULE)] = None,
    lr_schedule: Annotated[Optional[str], _opt(_S, "lr_schedule", panel=_SCHEDULE)] = None,
    seed: Annotated[Optional[int], _opt(_S, "seed", panel=_SCHEDULE)] = None,
    steps_per_epoch: Annotated[Optional[int], _opt(_S, "steps_per_epoch",
                                                   panel=_SCHEDULE)] = None,
    loss: Annotated[Optional[str], _opt(_S, "loss", panel=_LOSS)] = None,
    target_scale: Annotated[Optional[float], _opt(_S, "target_scale", panel=_LOSS)] = None,
    target_sigma_px: Annotated[Optional[float], _opt(_S, "target_sigma_px", panel=_LOSS)] = None,
    l1_weight: Annotated[Optional[float], _opt(_S, "l1_weight", panel=_LOSS)] = None,
    augment: Annotated[Optional[bool], _opt(
        _S, "augment", "--augment/--no-augment", panel=_INPUT)] = None,
    memory_budget: Annotated[Optional[str], _opt(
        _S, "memory_budget", panel=_INPUT, metavar="SIZE")] = None,
    mixed_precision: Annotated[Optional[bool], _opt(
        _S, "mixed_precision", "--mixed-precision", panel=_INPUT)] = None,
    precision: Annotated[Optional[str], _opt(_S, "precision", panel=_INPUT)] = None,
) -> None:
    """Train a model on a patch set streamed from Zarr into a model folder.

    Each epoch is checkpointed; a killed run is continued with --resume.
    Examples: smlmscale train train.zarr -o model --epochs 50;
    smlmscale train train.zarr -o model --resume --epochs 80;
    smlmscale train train3d.zarr -o model3d --model deepstorm3d --dilation-max 16
    --scaling-factor 800 --lr 5e-4 --batch-size 4;
    smlmscale train train3d.zarr -o mask3d --model deepstorm3d --learn-mask --psf clear.psf.zarr;
    smlmscale train --simulate sim.yaml -o model --model locnet --steps-per-epoch 500
    """
    if not global_options(ctx).debug and "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    given = given_settings(ctx, _S)
    if memory_budget is not None:
        given["memory_budget"] = parse_budget(memory_budget)
    from smlmscale.train.prepare import prepare_train

    plan = prepare_train(patches, output, resume=resume, overwrite=overwrite, given=given,
                         command=command_line(), simulate=simulate)
    from smlmscale.train.run import run_train

    def report(epoch: int, total: int, logs: dict[str, Any]) -> None:
        say(ctx, epoch_line(epoch, total, logs))

    try:
        result = run_train(plan, progress=report)
    except KeyboardInterrupt:
        typer.echo(f"the last complete epoch is checkpointed in {output}.partial: continue "
                   "with --resume", err=True)
        raise
    for line in summary_lines(result):
        say(ctx, line)
