"""Starting and resuming a training run in ``OUT.partial``.

A run writes ``train.json`` (its settings and the identity of its patch set) when it
starts, and a checkpoint each epoch (:mod:`smlmscale.train.callbacks`). ``--resume``
reads them back: the settings, the epochs done, the checkpoint to load, the best weights
and the schedules' counters.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smlmscale.errors import InputError
from smlmscale.patches.patchset import PatchSet
from smlmscale.train.history import BEST_WEIGHTS, STATE_FILE, truncate_history
from smlmscale.io.modeldir import CHECKPOINTS, HISTORY_FILE, is_model_dir, write_json
from smlmscale.train.settings import TrainSettings

RUN_FILE = "train.json"


def patchset_identity(ps: PatchSet) -> dict[str, Any]:
    """What identifies a patch set: path, creation time, patch count, generator, split."""
    return {
        "path": os.path.abspath(ps.path),
        "created": ps.attrs.get("created"),
        "patches": len(ps),
        "generator": ps.attrs.get("generator"),
        "split": ps.attrs.get("split"),
    }


def start_run(partial: Path, settings: TrainSettings, ps: PatchSet, command: str | None,
              started: str) -> None:
    """Create ``OUT.partial`` with its ``train.json``."""
    partial.mkdir()
    write_json(partial / RUN_FILE, {"settings": settings.to_dict(),
                                    "patch_set": patchset_identity(ps),
                                    "command": command, "started": started})


@dataclass
class ResumeState:
    """What a resumed run continues from.

    Attributes
    ----------
    settings : TrainSettings
        The interrupted run's settings with the changes allowed on resume.
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

    settings: TrainSettings
    epochs_done: int = 0
    checkpoint: Path | None = None
    best_weights: Path | None = None
    early_stopping: dict = field(default_factory=dict)
    reduce_lr: dict = field(default_factory=dict)
    stopped_early: bool = False
    started: str = ""


def _read(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"cannot resume: the interrupted run has no {what}", path=str(path),
                         hint="start again with --overwrite") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot resume: {what} cannot be read ({exc})", path=str(path),
                         hint="start again with --overwrite") from None
    if not isinstance(data, dict):
        raise InputError(f"cannot resume: {what} is malformed", path=str(path),
                         hint="start again with --overwrite")
    return data


def resume_state(final: Path, partial: Path, ps: PatchSet, given: dict[str, Any]) -> ResumeState:
    """Read what an interrupted run in ``partial`` left, checked against the patch set.

    Parameters
    ----------
    final, partial : pathlib.Path
        The output folder and its ``.partial`` sibling.
    ps : PatchSet
        The patch set given now; it must be the one the run trained on.
    given : dict
        Settings given on the command line now (None for those left out); only
        ``epochs`` may differ from the stored ones.

    Raises
    ------
    InputError
        Nothing to resume, the model already finished, another patch set, changed
        settings, or unreadable run files.
    """
    if not partial.is_dir():
        if is_model_dir(final):
            raise InputError("nothing to resume: this model finished training", path=str(final),
                             hint="train into another -o, or pass --overwrite to start again")
        raise InputError("nothing to resume: no interrupted run here", path=str(partial),
                         hint="leave out --resume to start training")
    run = _read(partial / RUN_FILE, RUN_FILE)
    try:
        stored = TrainSettings.from_dict(run["settings"])
    except (KeyError, TypeError, InputError) as exc:
        raise InputError(f"cannot resume: the stored settings are unusable ({exc})",
                         path=str(partial / RUN_FILE), hint="start again with --overwrite") \
            from None
    settings = stored.merged(given)
    was, now = run.get("patch_set", {}), patchset_identity(ps)
    if (was.get("created"), was.get("patches")) != (now["created"], now["patches"]):
        raise InputError("the interrupted run trained on another patch set "
                         f"({was.get('path')}, {was.get('patches')} patches)", path=ps.path,
                         hint="give the same patch set, or start again with --overwrite")
    state = ResumeState(settings=settings, started=str(run.get("started", "")))
    folder = partial / CHECKPOINTS
    if not (folder / STATE_FILE).exists():
        truncate_history(partial / HISTORY_FILE, 0)
        return state
    saved = _read(folder / STATE_FILE, f"{CHECKPOINTS}/{STATE_FILE}")
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
                         path=str(folder / STATE_FILE),
                         hint="start again with --overwrite") from None
    for path in (state.checkpoint, state.best_weights):
        if path is not None and not path.is_file():
            raise InputError("cannot resume: a checkpoint file is missing", path=str(path),
                             hint="start again with --overwrite")
    truncate_history(partial / HISTORY_FILE, state.epochs_done)
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
                         path=str(path), hint="start again with --overwrite") from None
    finally:
        best = model.get_weights()
        model.set_weights(current)
        for variable, value in zip(model.optimizer.variables if optimizer else [], optimizer):
            variable.assign(value)
    return best


__all__ = ["RUN_FILE", "ResumeState", "load_best_weights", "patchset_identity", "resume_state",
           "start_run"]
