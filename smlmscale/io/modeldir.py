"""Model folders: ``model.keras``, ``smlmscale.json``, ``history.csv``, ``checkpoints/``.

``smlmscale.json`` holds everything inference needs without the patch set: the model
kind, the patch geometry, the input normalization, the upsampling factor, the pixel size
of the input before upsampling, the generator's parameters (target blur, z bins, count
estimate), the loss, the training settings and results, and provenance (smlmscale
version, command, time, the patch set trained on).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from smlmscale.errors import InputError
from smlmscale.io.outputs import read_output_record, write_json

MODEL_FILE = "model.keras"
META_FILE = "smlmscale.json"
HISTORY_FILE = "history.csv"
CURVE_FILE = "training_curve.png"
CHECKPOINTS = "checkpoints"
LOGS = "logs"
KIND = "model"


def is_model_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder with an ``smlmscale.json`` of kind ``"model"`` (cheap)."""
    try:
        return read_model_json(path).get("kind") == KIND
    except InputError:
        return False


def read_model_json(path: str | os.PathLike) -> dict[str, Any]:
    """The ``smlmscale.json`` of a model folder.

    Raises
    ------
    InputError
        No such folder, no ``smlmscale.json``, one that is not valid JSON, or one that
        does not describe a model (:func:`~smlmscale.io.outputs.read_output_record`).
    """
    return read_output_record(path, META_FILE, kind=KIND, what="model folder",
                              writer="smlmscale train")


def load_keras_model(path: str | os.PathLike, *, compile: bool = False) -> Any:
    """Load a ``.keras`` file in Keras safe mode, with smlmscale's losses registered.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.keras`` file, or a model folder (its ``model.keras``).
    compile : bool, optional
        Restore the loss and optimizer too (needed to continue training).

    Raises
    ------
    InputError
        When the file is missing or Keras cannot load it (truncated, corrupt, not Keras).
    """
    import keras

    import smlmscale.models.losses  # noqa: F401  (registers the losses)
    import smlmscale.models.mask_imaging  # noqa: F401  (the imaging layer of --learn-mask)

    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, MODEL_FILE)
    if not os.path.isfile(path):
        raise InputError("model file not found", path=path)
    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except Exception as exc:  # noqa: BLE001  (Keras raises many kinds on a bad file)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"Keras cannot load this model file ({reason[:200]})", path=path,
                         hint="the file is truncated or corrupt; use another checkpoint "
                              "or train again") from None


def read_history(path: str | os.PathLike) -> Any:
    """``history.csv`` of a model folder as a DataFrame (empty when there is none)."""
    import pandas as pd

    csv = Path(os.fspath(path)) / HISTORY_FILE
    try:
        return pd.read_csv(csv)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def describe_model(path: str | os.PathLike) -> dict[str, Any]:
    """A summary of a model folder: kind, geometry, training results and provenance."""
    meta = read_model_json(path)
    folder = Path(os.fspath(path))
    stored = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    training = meta.get("training", {})
    return {
        "kind": "model",
        "path": str(folder),
        "model": meta.get("model"),
        "parameters": meta.get("parameters"),
        "input_shape": meta.get("input_shape"),
        "target_shape": meta.get("target_shape"),
        "upsampling": meta.get("upsampling"),
        "pixel_size_nm": meta.get("pixel_size_nm"),
        "loss": meta.get("loss"),
        "epochs": training.get("epochs_run"),
        "best_epoch": training.get("best_epoch"),
        "monitor": training.get("monitor"),
        "best_loss": training.get(f"best_{training.get('monitor')}"),
        "stopped_early": training.get("stopped_early"),
        "stored_bytes": stored,
        "patch_set": meta.get("patch_set", {}).get("path"),
        "provenance": meta.get("provenance"),
    }


__all__ = ["CHECKPOINTS", "CURVE_FILE", "HISTORY_FILE", "LOGS", "META_FILE", "MODEL_FILE",
           "describe_model", "is_model_dir", "load_keras_model", "read_history",
           "read_model_json", "write_json"]
