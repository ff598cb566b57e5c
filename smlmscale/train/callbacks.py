"""Keras callbacks that survive a killed job: checkpoints and resumable schedules.

:class:`EpochCheckpoint` writes, at the end of every epoch, the whole model (weights and
optimizer state, learning rate included) to ``checkpoints/epoch_NNNN.keras``, the best
weights so far to ``checkpoints/best.weights.h5``, and then ``checkpoints/state.json``
naming them with the schedules' counters. Each file is written under a temporary name
and renamed, and ``state.json`` last, so a job killed at any moment leaves the previous
epoch's complete checkpoint. :class:`ResumableEarlyStopping` and
:class:`ResumableReduceLROnPlateau` take their counters back from that state.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from smlmscale.train.history import (BEST_WEIGHTS, STATE_FILE, append_history,
                                     prune_checkpoints)
from smlmscale.io.modeldir import write_json

KEEP_CHECKPOINTS = 2


def _number(value: Any) -> float | None:
    """A monitored value as a JSON-safe float (None for none or NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


class _Resumable:
    """Mixin: ``state()`` to save counters, ``restore(state)`` applied at train begin."""

    _STATE: tuple[str, ...] = ()
    _restored: dict | None = None

    def state(self) -> dict[str, Any]:
        """The counters to save, as plain JSON values."""
        return {key: _number(getattr(self, key)) if key == "best" else getattr(self, key)
                for key in self._STATE}

    def restore(self, state: dict[str, Any] | None) -> None:
        """Counters to set when training begins (after Keras resets them)."""
        self._restored = dict(state or {})

    def on_train_begin(self, logs: dict | None = None) -> None:  # noqa: D102
        super().on_train_begin(logs)
        for key, value in (self._restored or {}).items():
            if key in self._STATE:
                setattr(self, key, value)


class ResumableEarlyStopping(_Resumable, keras.callbacks.EarlyStopping):
    """:class:`keras.callbacks.EarlyStopping` whose wait, best value and best epoch resume.

    The best weights are restored separately, with :meth:`set_best_weights`.
    """

    _STATE = ("wait", "best", "best_epoch", "stopped_epoch")
    _best_weights_restored: list | None = None

    def set_best_weights(self, weights: list | None) -> None:
        """Best weights (from ``best.weights.h5``) to hold when training begins."""
        self._best_weights_restored = weights

    def on_train_begin(self, logs: dict | None = None) -> None:  # noqa: D102
        super().on_train_begin(logs)
        if self._best_weights_restored is not None:
            self.best_weights = self._best_weights_restored


class ResumableReduceLROnPlateau(_Resumable, keras.callbacks.ReduceLROnPlateau):
    """:class:`keras.callbacks.ReduceLROnPlateau` whose wait, best value and cooldown resume.

    The learning rate itself is part of the optimizer state in the checkpoint.
    """

    _STATE = ("wait", "best", "cooldown_counter")


def cosine_lr(epoch: int, epochs: int, lr: float, min_lr: float) -> float:
    """The learning rate of ``epoch`` (0-based) of ``epochs`` on a half-cosine from ``lr``
    (epoch 0) towards ``min_lr`` (reached after the last epoch).

    Examples
    --------
    >>> [round(cosine_lr(e, 4, 1.0, 0.0), 3) for e in range(4)]
    [1.0, 0.854, 0.5, 0.146]
    """
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * epoch / epochs))


#: Share of the epochs over which ``anneal`` decays the rate; the rest hold ``lr``.
ANNEAL_SHARE = 0.25


def anneal_lr(progress: float, epochs: int, lr: float, min_lr: float) -> float:
    """The learning rate after ``progress`` epochs (batches as fractions of an epoch) of
    ``epochs``: ``lr`` for the first ``1 - ANNEAL_SHARE`` of them, then linearly down to
    ``min_lr``, reached at the end (a warmup-free "stable-decay" schedule).

    Examples
    --------
    >>> [round(anneal_lr(p, 4, 1.0, 0.0), 3) for p in (0, 2.9, 3, 3.5, 4)]
    [1.0, 1.0, 1.0, 0.5, 0.0]
    """
    start = epochs * (1.0 - ANNEAL_SHARE)
    if progress <= start:
        return lr
    return lr + (min_lr - lr) * min(1.0, (progress - start) / (epochs - start))


class _ScheduledLR(keras.callbacks.Callback):
    """Set the optimizer's learning rate from a function of the position in the run alone
    (the epoch, and for :class:`AnnealLR` the batch within it), so a resumed run continues
    the same schedule (a resume that raises ``epochs`` stretches the rest of it). The rate
    is logged as ``learning_rate`` (the rate of the epoch's last batch).

    Parameters
    ----------
    epochs : int
        Epochs of the whole run.
    lr, min_lr : float
        First and last rates.
    """

    def __init__(self, epochs: int, lr: float, min_lr: float) -> None:
        super().__init__()
        self.epochs, self.lr, self.min_lr = epochs, lr, min_lr

    def _set(self, value: float) -> None:
        self.model.optimizer.learning_rate.assign(value)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        if logs is not None:  # history.csv's column, as ReduceLROnPlateau logs it
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())


class CosineLR(_ScheduledLR):
    """Set the rate to :func:`cosine_lr` at the start of each epoch (see
    :class:`_ScheduledLR`)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        self._set(cosine_lr(epoch, self.epochs, self.lr, self.min_lr))


class AnnealLR(_ScheduledLR):
    """Set the rate to :func:`anneal_lr` before every batch (the decay is smooth within
    an epoch; a stream of unknown length decays per epoch). See :class:`_ScheduledLR`."""

    _epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        self._epoch = epoch
        self._set(anneal_lr(epoch, self.epochs, self.lr, self.min_lr))

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:  # noqa: D102
        steps = self.params.get("steps") if self.params else None
        if steps:
            self._set(anneal_lr(self._epoch + batch / steps, self.epochs, self.lr,
                                self.min_lr))


#: The schedules of ``lr_schedule`` that are a function of the position in the run.
SCHEDULES = {"cosine": CosineLR, "anneal": AnnealLR}


class EpochCheckpoint(keras.callbacks.Callback):
    """Save a resumable checkpoint at the end of every epoch.

    Parameters
    ----------
    folder : str or os.PathLike
        The ``checkpoints/`` folder (created).
    history : str or os.PathLike
        ``history.csv``: a row per epoch (``epoch`` 1-based, ``seconds``, the logged
        losses and learning rate) is appended before the checkpoint is written.
    early_stopping : ResumableEarlyStopping
        Its counters and best weights are saved with each checkpoint.
    reduce_lr : ResumableReduceLROnPlateau, optional
        Its counters are saved with each checkpoint; None under another schedule (the
        cosine one is a function of the epoch alone: nothing to save).
    keep : int, optional
        Most recent checkpoints kept; older ones are removed.
    on_epoch : callable, optional
        Called with ``(epoch, logs)`` (epoch 1-based) once the checkpoint is written.
    """

    def __init__(self, folder: str | os.PathLike, history: str | os.PathLike, *,
                 early_stopping: ResumableEarlyStopping,
                 reduce_lr: ResumableReduceLROnPlateau | None = None,
                 keep: int = KEEP_CHECKPOINTS,
                 on_epoch: Callable[[int, dict], None] | None = None) -> None:
        super().__init__()
        self.folder = Path(os.fspath(folder))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.early_stopping, self.reduce_lr = early_stopping, reduce_lr
        self.history = Path(os.fspath(history))
        self.keep, self.on_epoch = keep, on_epoch
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        done = epoch + 1
        logs = {key: _number(value) for key, value in (logs or {}).items()}
        logs["seconds"] = round(time.perf_counter() - self._started, 3)
        append_history(self.history, done, logs)
        name = f"epoch_{done:04d}.keras"
        tmp = self.folder / f".partial_{name}"
        self.model.save(tmp)
        os.replace(tmp, self.folder / name)
        es = self.early_stopping
        best = None
        if es.best_weights is not None:
            best = BEST_WEIGHTS
            if es.best_epoch == epoch or not (self.folder / BEST_WEIGHTS).exists():
                self._save_best(es.best_weights)
        write_json(self.folder / STATE_FILE, {
            "epochs_done": done,
            "checkpoint": name,
            "best_weights": best,
            "stopped_early": bool(self.model.stop_training),
            "early_stopping": es.state(),
            "reduce_lr": {} if self.reduce_lr is None else self.reduce_lr.state(),
            "logs": logs,
        })
        prune_checkpoints(self.folder, self.keep)
        if self.on_epoch is not None:
            self.on_epoch(done, logs)

    def _save_best(self, weights: list) -> None:
        current = self.model.get_weights()
        self.model.set_weights(weights)
        tmp = self.folder / f".partial_{BEST_WEIGHTS}"
        self.model.save_weights(tmp)
        self.model.set_weights(current)
        os.replace(tmp, self.folder / BEST_WEIGHTS)


__all__ = ["AnnealLR", "CosineLR", "EpochCheckpoint", "ResumableEarlyStopping",
           "ResumableReduceLROnPlateau", "SCHEDULES", "STATE_FILE", "anneal_lr",
           "cosine_lr"]
