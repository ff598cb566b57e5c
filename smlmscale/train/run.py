"""Orchestration: train a model on a patch set into a model folder, resumably.

:func:`run_train` trains a :class:`~smlmscale.train.prepare.TrainPlan` (from
:func:`~smlmscale.train.prepare.prepare_train`; training needs no Dask cluster). The run
is built in ``OUT.partial`` by :func:`~smlmscale.io.outputs.staged_output`, whose record is
``train.json``, and renamed to ``OUT`` once ``model.keras``, ``smlmscale.json``,
``history.csv`` and the curve are written; a killed job leaves ``OUT.partial`` with a
checkpoint per epoch for ``--resume``. :func:`train_model` does both in one call.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smlmscale._version import __version__
from smlmscale.errors import InputError
from smlmscale.io import modeldir as md
from smlmscale.io.outputs import staged_output, utc_now
from smlmscale.train.augment import allowed_augmentation
from smlmscale.train.history import prune_checkpoints, truncate_history
from smlmscale.train.prepare import RESUME_HINT, TrainPlan, prepare_train
from smlmscale.train.resume import RUN_FILE, compare_run, load_best_weights, patchset_identity
from smlmscale.train.settings import TrainSettings
from smlmscale.train.stream import StreamPlan, patch_stream

EpochCallback = Callable[[int, int, dict], None]
# Seed offset per resumed epoch, so a resumed run does not replay epoch 1's order.
RESUME_SEED_STEP = 7919


@dataclass
class TrainResult:
    """What a training run did.

    Attributes
    ----------
    path : str
        The model folder.
    settings : TrainSettings
    epochs_run : int
        Epochs completed in all, including those of an interrupted run.
    initial_epoch : int
        Epochs done before this call (0 unless resumed).
    best_epoch : int
        1-based epoch whose weights were kept.
    monitor : str
        ``"val_loss"`` (or ``"loss"`` when the patch set has no validation split).
    best : float
        The monitored loss at ``best_epoch``.
    first : float
        The monitored loss after the first epoch.
    stopped_early : bool
    history : pandas.DataFrame
        ``history.csv``.
    curve : str
        The training-curve PNG.
    plan : StreamPlan
        How the input stream was sized.
    seconds : float
        Wall time of this call's training.
    device : str
        Strategy and devices used.
    notes : list of str
        Things the user should know (no TensorBoard, no validation split...).
    model : keras.Model or None
        The trained model, as saved in ``model.keras`` (for callers in Python).
    """

    path: str
    settings: TrainSettings
    epochs_run: int
    initial_epoch: int
    best_epoch: int
    monitor: str
    best: float
    first: float
    stopped_early: bool
    history: Any
    curve: str
    plan: StreamPlan
    seconds: float
    device: str
    notes: list[str] = field(default_factory=list)
    model: Any = None


def run_train(plan: TrainPlan, *, progress: EpochCallback | None = None) -> TrainResult:
    """Train a checked plan into its model folder (built in ``OUT.partial``, then renamed).

    Parameters
    ----------
    plan : TrainPlan
        From :func:`~smlmscale.train.prepare.prepare_train`.
    progress : callable, optional
        Called as ``progress(epoch, epochs, logs)`` after each epoch's checkpoint.

    Returns
    -------
    TrainResult

    Raises
    ------
    InputError
        An unreadable checkpoint, or no epoch trained; ``OUT.partial`` is kept for
        ``--resume`` (as it is when the job is killed).
    """
    source = plan.partial / RUN_FILE
    # overwrite on resume: the interrupted run may have been started with --overwrite
    # over a finished model, which it replaces once complete.
    with staged_output(plan.output, overwrite=plan.overwrite or plan.resume,
                       resume=plan.resume, record=plan.record, record_name=RUN_FILE,
                       compare=functools.partial(compare_run, source=source),
                       resume_hint=RESUME_HINT) as staged:
        if staged.resumed:
            # A row written just before a kill, without its checkpoint, is dropped.
            truncate_history(staged.path / md.HISTORY_FILE, plan.state.epochs_done)
        return _fit(plan, staged.path, progress)


def train_model(patchset: str | os.PathLike | None, output: str | os.PathLike, *,
                settings: TrainSettings | None = None, given: Mapping[str, Any] | None = None,
                resume: bool = False, overwrite: bool = False, command: str | None = None,
                on_epoch: EpochCallback | None = None,
                simulate: str | os.PathLike | None = None) -> TrainResult:
    """Train a model on a patch set streamed from Zarr and write its model folder.

    :func:`~smlmscale.train.prepare.prepare_train` then :func:`run_train`.

    Parameters
    ----------
    patchset : str or os.PathLike
        A patch set from ``smlmscale patches``.
    output : str or os.PathLike
        The model folder to write (``model.keras``, ``smlmscale.json``, ``history.csv``,
        ``training_curve.png``, ``checkpoints/``, ``logs/``).
    settings : TrainSettings, optional
        Settings of a new run; built from ``given`` when None.
    given : mapping, optional
        Settings given by the user (None values ignored). With ``resume``, only ``epochs``
        may differ from the interrupted run's.
    resume : bool, optional
        Continue the interrupted run in ``OUT.partial`` from its last checkpoint
        (epoch, weights, optimizer state, learning rate and schedules).
    overwrite : bool, optional
        Replace an existing output (only once the new one is complete) and discard an
        interrupted run.
    command : str, optional
        The command line, for provenance.
    on_epoch : callable, optional
        Called as ``on_epoch(epoch, epochs, logs)`` after each epoch's checkpoint.
    simulate : str or os.PathLike, optional
        A ``--simulate`` YAML file: train on data simulated on the fly (``patchset`` None).

    Raises
    ------
    InputError
        Bad settings, a patch set of the wrong kind or with an empty split, an existing
        output, nothing to resume, or an unreadable checkpoint.
    """
    plan = prepare_train(patchset, output, settings=settings, resume=resume,
                         overwrite=overwrite, given=given, command=command,
                         simulate=simulate)
    return run_train(plan, progress=on_epoch)


def _loss_params(plan: TrainPlan) -> dict[str, Any]:
    """The loss's parameters: the settings' and, for the model's default loss, those the
    patch set and the model's options decide (locnet: its most emitters per patch;
    deepstorm3d: the voxel grid and the scaling factor)."""
    from smlmscale.models import model_kind

    settings, kind = plan.settings, model_kind(plan.settings.model)
    data = kind.data_loss_params(plan.model_params) if settings.loss_name == kind.loss else {}
    return {**settings.loss_params(), **data}


def _compiled_model(plan: TrainPlan, arithmetic: str) -> Any:
    """The model to fit: the checkpoint of a resumed run (in the arithmetic it was saved
    in), or a new one, in bfloat16 as prediction runs it when ``arithmetic`` says so."""
    import keras

    from smlmscale.models import get_loss, model_kind
    from smlmscale.train.devices import float32_output

    if plan.state.checkpoint is not None:
        return md.load_keras_model(plan.state.checkpoint, compile=True)
    settings = plan.settings
    model = float32_output(model_kind(settings.model).build(*plan.shapes,
                                                            params=plan.model_params))
    if arithmetic == "bfloat16":
        from smlmscale.predict.precision import with_precision

        model = with_precision(model, "bfloat16")
    if plan.mask_learning is not None:
        from smlmscale.train.mask_learning import learner

        model = learner(model, plan.mask_learning, plan.shapes[1], seed=settings.seed)
    loss = get_loss(settings.loss_name, **_loss_params(plan))
    model.compile(optimizer=keras.optimizers.Adam(settings.lr), loss=loss)
    return model


def _streams(plan: TrainPlan, *, augment: str, seed: int) -> tuple[Any, Any, int | None]:
    """``(train, validation, steps_per_epoch)``: the patch set's splits streamed from Zarr,
    or the simulated stream and its fixed validation set (``--simulate``)."""
    settings = plan.settings
    if plan.simulation is not None:
        from smlmscale.train.simulated import simulated_stream, validation_set

        steps = int(settings.steps_per_epoch)
        train = simulated_stream(plan.simulation, steps_per_epoch=steps,
                                 batch_size=settings.batch_size,
                                 initial_epoch=plan.state.epochs_done)
        return train, validation_set(plan.simulation, batch_size=settings.batch_size), steps
    ps = plan.patchset
    learning = plan.mask_learning is not None   # the inputs are imaged from the targets
    train = patch_stream(ps, "train", plan.stream, augment=augment, seed=seed,
                         target_scale=settings.scale, targets_only=learning)
    val = (patch_stream(ps, "validation", plan.stream, shuffle=False,
                        target_scale=settings.scale, targets_only=learning)
           if plan.validation else None)
    if plan.mask_learning is not None:
        from smlmscale.train.mask_learning import learning_stream

        train, val = learning_stream(train), learning_stream(val)
    return train, val, None


def _fit(plan: TrainPlan, partial: Path, on_epoch: EpochCallback | None) -> TrainResult:
    import keras

    from smlmscale.train.callbacks import (SCHEDULES, EpochCheckpoint, ResumableEarlyStopping,
                                           ResumableReduceLROnPlateau)
    from smlmscale.models.kinds import has_z_head
    from smlmscale.train.devices import (choose_strategy, precision, train_arithmetic,
                                         visible_gpus)

    ps, settings, state = plan.patchset, plan.settings, plan.state
    notes: list[str] = []
    gpus = visible_gpus()
    seed = settings.seed + RESUME_SEED_STEP * state.epochs_done
    keras.utils.set_random_seed(seed)
    monitor = "val_loss" if plan.validation else "loss"
    if not plan.validation:
        notes.append("the patch set has no validation split: early stopping and the learning "
                     "rate follow the training loss")
    augment = (allowed_augmentation(plan.attrs.get("generator"), *plan.shapes, plan.attrs)
               if settings.augment and ps is not None else "none")
    strategy = choose_strategy(gpus)
    arithmetic = train_arithmetic(settings.precision, model_kind=settings.model,
                                  mixed=settings.mixed_precision, gpus=gpus,
                                  is_3d=has_z_head(settings.model, plan.shapes[1]))
    with precision(settings.mixed_precision, gpus) as policy, strategy.scope():
        model = _compiled_model(plan, arithmetic)
        if any(layer.dtype_policy.name == "mixed_bfloat16" for layer in model.layers):
            policy = "mixed_bfloat16"     # a new bfloat16 run, or a resumed one
        train, val, steps = _streams(plan, augment=augment, seed=seed)
        es = ResumableEarlyStopping(monitor=monitor, patience=settings.patience,
                                    restore_best_weights=True)
        es.restore(state.early_stopping)
        best_weights = load_best_weights(model, state.best_weights)
        es.set_best_weights(best_weights)
        rlr = None
        if settings.lr_schedule == "plateau":
            rlr = ResumableReduceLROnPlateau(monitor=monitor, factor=settings.lr_factor,
                                             patience=settings.lr_patience,
                                             min_lr=settings.min_lr)
            rlr.restore(state.reduce_lr)
        report = None if on_epoch is None else (
            lambda epoch, logs: on_epoch(epoch, settings.epochs, logs))
        schedule = rlr if rlr is not None else SCHEDULES[settings.lr_schedule](
            settings.epochs, settings.lr, settings.min_lr)
        callbacks = [es, schedule, EpochCheckpoint(partial / md.CHECKPOINTS,
                                                   partial / md.HISTORY_FILE,
                                                   early_stopping=es, reduce_lr=rlr,
                                                   on_epoch=report)]
        if importlib.util.find_spec("tensorboard") is not None:
            callbacks.append(keras.callbacks.TensorBoard(log_dir=str(partial / md.LOGS),
                                                         write_graph=False))
        else:
            notes.append("TensorBoard logs were not written: the tensorboard package is "
                         "not installed")
        started = time.perf_counter()
        if not state.stopped_early and state.epochs_done < settings.epochs:
            model.fit(train, validation_data=val, epochs=settings.epochs,
                      initial_epoch=state.epochs_done, callbacks=callbacks, verbose=0,
                      shuffle=False, steps_per_epoch=steps)
        elif best_weights is not None:
            model.set_weights(best_weights)
        seconds = time.perf_counter() - started
    device = (f"MirroredStrategy over {len(gpus)} GPUs" if len(gpus) > 1 else
              "1 GPU" if gpus else "CPU")
    return _finish(plan, model, partial, notes, monitor=monitor, seconds=seconds,
                   device=f"{device}, {policy}")


def _finish(plan: TrainPlan, model: Any, partial: Path, notes: list[str], *, monitor: str,
            seconds: float, device: str) -> TrainResult:
    """Write ``model.keras``, ``smlmscale.json`` and the curve into ``partial``; drop the
    run record and all but the last checkpoint (the folder is renamed into place after)."""
    from smlmscale.train.curve import plot_history

    settings, final = plan.settings, Path(plan.output)
    history = md.read_history(partial)
    if history.empty:
        raise InputError("training ran no epoch", path=str(partial),
                         hint="give --epochs above the epochs already done")
    best_row = history.loc[history[monitor].idxmin()]
    best_epoch, epochs_run = int(best_row["epoch"]), int(history["epoch"].max())
    stopped = bool(epochs_run < settings.epochs)
    if plan.mask_learning is not None:
        from smlmscale.train.mask_learning import MASK_FILE, PSF_FILE, save_learned

        model = save_learned(model, plan.mask_learning, partial)
        notes.append(f"the learnt phase mask is in {final / MASK_FILE} and its PSF file "
                     f"{final / PSF_FILE} (simulate --psf takes it)")
    from smlmscale.predict.precision import float32_layers

    model = float32_layers(model)    # predict --precision decides how it computes
    tmp = partial / f".partial_{md.MODEL_FILE}"
    model.save(tmp)
    os.replace(tmp, partial / md.MODEL_FILE)
    training = {
        **settings.to_mapping(),
        "epochs_run": epochs_run,
        "monitor": monitor,
        "best_epoch": best_epoch,
        f"best_{monitor}": float(best_row[monitor]),
        "best_val_loss": float(best_row[monitor]) if monitor == "val_loss" else None,
        "stopped_early": stopped,
        "stream": {"cycle_length": plan.stream.cycle_length,
                   "shuffle_patches": plan.stream.shuffle_patches,
                   "prefetch_batches": plan.stream.prefetch_batches,
                   "bytes": plan.stream.bytes},
        "device": device,
        "started": plan.record.get("started"),
    }
    md.write_json(partial / md.META_FILE, _model_json(plan, model, training))
    curve = plot_history(history, partial / md.CURVE_FILE, best_epoch=best_epoch,
                         title=f"{settings.model} on {plan.data_name}")
    (partial / RUN_FILE).unlink(missing_ok=True)
    prune_checkpoints(partial / md.CHECKPOINTS, 1)
    return TrainResult(
        path=str(final), settings=settings, epochs_run=epochs_run,
        initial_epoch=plan.state.epochs_done, best_epoch=best_epoch, monitor=monitor,
        best=float(best_row[monitor]), first=float(history[monitor].iloc[0]),
        stopped_early=stopped, history=history, curve=str(final / curve.name),
        plan=plan.stream, seconds=seconds, device=device, notes=notes, model=model)


def _model_json(plan: TrainPlan, model: Any, training: dict[str, Any]) -> dict[str, Any]:
    """``smlmscale.json``: what inference needs, the training and its provenance."""
    ps, settings, attrs = plan.patchset, plan.settings, plan.attrs
    data = ({"simulation": attrs.get("simulation"), "simulate_file":
             plan.record.get("simulate_file")} if ps is None else
            {"patch_set": {**patchset_identity(ps), "source": attrs.get("source"),
                           "command": attrs.get("command")}})
    return {
        "kind": md.KIND,
        "model": settings.model,
        "version": __version__,
        "parameters": int(model.count_params()),
        "input_shape": list(plan.shapes[0]),
        "target_shape": list(plan.shapes[1]),
        "upsampling": attrs.get("upsampling"),
        "pixel_size_nm": attrs.get("pixel_size_nm"),
        "normalization": attrs.get("normalization"),
        "generator": attrs.get("generator"),
        "generator_params": attrs.get("params"),
        "estimate": attrs.get("estimate"),
        "target_scale": settings.scale,
        "model_options": settings.model_options(),
        "loss": {"name": settings.loss_name, **_loss_params(plan)},
        "training": training,
        **({} if plan.mask_learning is None else
           {"mask_learning": plan.mask_learning.record()}),
        **data,
        "provenance": {"command": plan.command, "created": utc_now(), "version": __version__},
    }


__all__ = ["TrainPlan", "TrainResult", "prepare_train", "run_train", "train_model"]
