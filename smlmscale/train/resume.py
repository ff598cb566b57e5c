"""The record of a training run in ``OUT.partial``, and what ``--resume`` reads back.

A run's record, ``train.json`` (:func:`run_record`: its settings and the identity of its
patch set), is written by :func:`~smlmscale.io.outputs.staged_output` when the run
starts and compared by :func:`compare_run` when it resumes; the run writes a checkpoint
each epoch (:mod:`smlmscale.train.callbacks`). ``--resume`` reads them back: the
settings, the epochs done, the checkpoint to load, the best weights and the schedules'
counters. Nothing here writes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smlmscale.errors import InputError
from smlmscale.io.modeldir import CHECKPOINTS, is_model_dir
from smlmscale.io.outputs import read_record
from smlmscale.patches.patchset import PatchSet
from smlmscale.train.history import BEST_WEIGHTS, STATE_FILE
from smlmscale.train.settings import TrainSettings

RUN_FILE = "train.json"
_AGAIN = "start again with --overwrite"


def patchset_identity(ps: PatchSet) -> dict[str, Any]:
    """What identifies a patch set: path, creation time, patch count, generator, split."""
    return {
        "path": os.path.abspath(ps.path),
        "created": ps.attrs.get("created"),
        "patches": len(ps),
        "generator": ps.attrs.get("generator"),
        "split": ps.attrs.get("split"),
    }


def run_record(settings: TrainSettings, ps: PatchSet | None, *, command: str | None,
               started: str, simulation: Any = None,
               simulate_file: str | None = None) -> dict[str, Any]:
    """The run's ``train.json``: its settings and patch set (compared on resume), the
    command and start time (kept). A ``--simulate`` run (``ps`` None) records the
    YAML's content (``simulation``, a
    :class:`~smlmscale.train.simparams.SimTrainSettings`, with its seed; compared on
    resume) and the file it was read from."""
    record = {"settings": settings.to_mapping(),
              "patch_set": None if ps is None else patchset_identity(ps),
              "command": command, "started": started}
    if simulation is not None:
        record["simulation"] = simulation.to_mapping()
        record["simulate_file"] = simulate_file
    return record


def interrupted_run(final: Path, partial: Path) -> dict[str, Any]:
    """The ``train.json`` of the interrupted run in ``partial``.

    Raises
    ------
    InputError
        Nothing to resume (no ``partial``; the model in ``final`` finished training), or
        an unreadable ``train.json``.
    """
    if not partial.is_dir():
        if is_model_dir(final):
            raise InputError("nothing to resume: this model finished training", path=final,
                             hint="train into another -o, or pass --overwrite to start again")
        raise InputError("nothing to resume: no interrupted run here", path=partial,
                         hint="leave out --resume to start training")
    return read_record(partial / RUN_FILE, what=RUN_FILE)


def stored_settings(stored: Mapping[str, Any], *, source: str | os.PathLike | None = None
                    ) -> TrainSettings:
    """The settings in an interrupted run's ``train.json``.

    Raises
    ------
    InputError
        When they are missing or refused.
    """
    try:
        return TrainSettings.from_mapping(stored["settings"], source=source)
    except (KeyError, TypeError, InputError) as exc:
        raise InputError(f"cannot resume: the stored settings are unusable ({exc})",
                         path=source, hint=_AGAIN) from None


def compare_run(stored: Mapping[str, Any], record: Mapping[str, Any], *,
                source: str | os.PathLike | None = None) -> None:
    """Refuse to resume the run ``stored`` as the run ``record`` (two :func:`run_record`).

    Only ``epochs`` may differ; the patch set must be the same (creation time and size),
    or the ``--simulate`` parameters (the YAML's content) the same.

    Raises
    ------
    InputError
        A changed setting (named by its flag), another patch set, or unusable settings.
    """
    stored_settings(stored, source=source).merged(record.get("settings", {}))
    if stored.get("simulation") != record.get("simulation"):
        was = stored.get("simulate_file") or "a patch set"
        raise InputError(f"the interrupted run trained on other data ({was}): the "
                         "simulation parameters differ", path=record.get("simulate_file"),
                         hint="give the same --simulate file content, or start again with "
                              "--overwrite")
    was, now = stored.get("patch_set") or {}, record.get("patch_set") or {}
    if (was.get("created"), was.get("patches")) != (now.get("created"), now.get("patches")):
        raise InputError("the interrupted run trained on another patch set "
                         f"({was.get('path')}, {was.get('patches')} patches)",
                         path=now.get("path"),
                         hint="give the same patch set, or start again with --overwrite")


@dataclass
class ResumeState:
    """What a run continues from (nothing, for a new run).

    Attributes
    ----------
    epochs_done : int
        Epochs completed and checkpointed (0 when killed during the first).
    checkpoint : pathlib.Path or None
        The ``.keras`` file to load (model and optimizer state).
    best_weights : pathlib.Path or None
        ``best.weights.h5``.
    early_stopping, reduce_lr : dict
        The schedules' counters.
    stopped_early : bool
        Whether the interrupted run had already stopped early.
    started : str
        When the run first started (UTC).
    """

    epochs_done: int = 0
    checkpoint: Path | None = None
    best_weights: Path | None = None
    early_stopping: dict = field(default_factory=dict)
    reduce_lr: dict = field(default_factory=dict)
    stopped_early: bool = False
    started: str = ""


def resume_state(partial: Path, stored: Mapping[str, Any]) -> ResumeState:
    """Read (and change nothing of) the checkpoint an interrupted run in ``partial`` left.

    Parameters
    ----------
    partial : pathlib.Path
        ``OUT.partial``.
    stored : mapping
        Its ``train.json``.

    Raises
    ------
    InputError
        A malformed ``checkpoints/state.json`` or a checkpoint file it names missing.
    """
    state = ResumeState(started=str(stored.get("started", "")))
    folder = partial / CHECKPOINTS
    if not (folder / STATE_FILE).exists():
        return state
    saved = read_record(folder / STATE_FILE, what=f"{CHECKPOINTS}/{STATE_FILE}")
    try:
        state.epochs_done = int(saved["epochs_done"])
        state.checkpoint = folder / str(saved["checkpoint"])
        if saved.get("best_weights"):
            state.best_weights = folder / BEST_WEIGHTS
        state.early_stopping = dict(saved.get("early_stopping") or {})
        state.reduce_lr = dict(saved.get("reduce_lr") or {})
        state.stopped_early = bool(saved.get("stopped_early", False))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"cannot resume: the checkpoint state is malformed ({exc})",
                         path=folder / STATE_FILE, hint=_AGAIN) from None
    for path in (state.checkpoint, state.best_weights):
        if path is not None and not path.is_file():
            raise InputError("cannot resume: a checkpoint file is missing", path=path,
                             hint=_AGAIN)
    return state


def load_best_weights(model: Any, path: Path | None) -> list | None:
    """The weights in ``best.weights.h5``; the model's weights and optimizer are left as they were.

    Raises
    ------
    InputError
        When the file cannot be read into this model.
    """
    if path is None:
        return None
    current = model.get_weights()
    # A .weights.h5 file holds the optimizer's variables too: keep the checkpoint's.
    optimizer = [v.numpy() for v in model.optimizer.variables] if model.optimizer else []
    try:
        model.load_weights(path)
    except Exception as exc:  # noqa: BLE001  (h5py and Keras raise many kinds)
        raise InputError(f"cannot resume: the best weights cannot be read ({exc})",
                         path=str(path), hint=_AGAIN) from None
    finally:
        best = model.get_weights()
        model.set_weights(current)
        for variable, value in zip(model.optimizer.variables if optimizer else [], optimizer):
            variable.assign(value)
    return best


__all__ = ["RUN_FILE", "ResumeState", "compare_run", "interrupted_run", "load_best_weights",
           "patchset_identity", "resume_state", "run_record", "stored_settings"]
