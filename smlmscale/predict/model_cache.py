"""One model per worker process, loaded from its folder on first use, never shipped in a task.

Tasks name the model folder; :func:`cached_predictor` loads ``model.keras`` once per process
(keyed by path and modification time, so a retrained model is picked up), rebuilds it with
free spatial input dimensions so any tile shape can be predicted, derives its receptive
field, and matches TensorFlow's thread pools to the Dask worker's threads before
TensorFlow starts (``intra_op`` = worker threads, ``inter_op`` = 1), so two workers on one
machine do not each spawn a pool per core. ``precision`` (``predict --precision``) may
give a bfloat16 clone instead (:mod:`smlmscale.predict.precision`).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from smlmscale.io.modeldir import MODEL_FILE, load_keras_model

_LOCK = threading.Lock()
#: (model file, mtime) -> the loaded model; (model file, mtime, precision asked for or
#: arithmetic) -> predictor (a request resolves once, then finds its predictor directly).
_LOADED: dict[tuple[str, int], Any] = {}
_CACHE: dict[tuple[str, int, str], Predictor] = {}


@dataclass(frozen=True)
class Predictor:
    """A loaded model ready for tiles of any size.

    Attributes
    ----------
    model : keras.Model
        With input ``(None, None, None, C)``.
    radius : int
        Receptive radius, model-input pixels.
    align : int
        Total downsampling: window sides must be multiples of it.
    channels_in, channels_out : int
    split : SplitNet or None
        A K = 3 locnet model's two halves (frame features once per frame).
    upsamples : int
        Output pixels per input pixel (deepstorm3d upsamples inside the model; 1 for
        the others).
    precision : {"float32", "bfloat16"}
        The arithmetic the model computes in (its outputs are float32 either way).
    """

    model: Any
    radius: int
    align: int
    channels_in: int
    channels_out: int
    split: Any = None
    upsamples: int = 1
    precision: str = "float32"

    def __call__(self, batch: Any) -> Any:
        """Predict a ``(B, h, w, C)`` float32 batch (inference mode) as NumPy."""
        return self.model.predict_on_batch(batch)


def _worker_threads() -> int | None:
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return None


def match_threads(threads: int | None) -> bool:
    """Set TensorFlow's thread pools if it has not started yet; whether it was set."""
    if not threads:
        return False
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialized in this process
        return False
    return True


def flexible(model: Any, precision: str = "float32") -> Any:
    """The same network and weights with free spatial input dimensions, computing in
    ``precision`` (``"float32"`` or ``"bfloat16"``; one clone either way)."""
    from smlmscale.predict.precision import with_precision

    channels = int(model.inputs[0].shape[-1])
    return with_precision(model, precision, input_shape=(None, None, channels))


def _field(model: Any, receptive_field: Any, upsamples: int) -> tuple[int, int]:
    """``(radius, align)``; locnet's nested per-frame U-Net from its builder's formula."""
    if model.name == "locnet":
        from smlmscale.models.locnet_layout import model_field

        return model_field(model)
    return receptive_field(model, upsampling=upsamples)


def upsampling_of(model: Any) -> int:
    """Output pixels per input pixel of a model saved with a fixed input size."""
    size_in, size_out = model.inputs[0].shape[1], model.outputs[0].shape[1]
    return int(size_out) // int(size_in) if size_in and size_out else 1


def _split(model: Any) -> Any:
    """A K = 3 locnet's halves as a :class:`~smlmscale.predict.locnet_block.SplitNet`."""
    if model.name != "locnet":
        return None
    from smlmscale.models.locnet_layout import split_locnet
    from smlmscale.predict.locnet_block import SplitNet

    halves = split_locnet(model)
    if halves is None:
        return None
    frame, context, features = halves
    return SplitNet(frame=frame.predict_on_batch, context=context.predict_on_batch,
                    features=features)


def cached_predictor(folder: str | os.PathLike, precision: str = "float32") -> Predictor:
    """The :class:`Predictor` of a model folder: loaded once per process, cloned once per
    arithmetic (``"auto"`` and the precision it resolves to give the same predictor).

    Parameters
    ----------
    folder : path
        The model folder.
    precision : {"auto", "float32", "bfloat16"}
        :func:`smlmscale.predict.precision.resolve_precision`, decided in this process
        (a worker's own CPU).

    Raises
    ------
    InputError
        When ``model.keras`` is missing or cannot be loaded, or for an unknown precision.
    """
    from smlmscale.predict.precision import resolve_precision
    from smlmscale.predict.receptive import receptive_field

    path = os.path.abspath(os.path.join(os.fspath(folder), MODEL_FILE))
    try:
        loaded = (path, os.stat(path).st_mtime_ns)
    except OSError:
        loaded = (path, 0)
    requested = (*loaded, precision)
    with _LOCK:
        if requested in _CACHE:      # the hot path: every block's task asks again
            return _CACHE[requested]
        if loaded not in _LOADED:
            match_threads(_worker_threads())
            _LOADED[loaded] = load_keras_model(path)
        model = _LOADED[loaded]
        # built per arithmetic: "auto" and what it resolves to share one predictor
        arithmetic = resolve_precision(precision, model_kind=model.name)
        key = (*loaded, arithmetic)
        if key not in _CACHE:
            upsamples = upsampling_of(model)
            radius, align = _field(model, receptive_field, upsamples)
            free = flexible(model, arithmetic)
            _CACHE[key] = Predictor(model=free, radius=radius, align=align,
                                    channels_in=int(model.inputs[0].shape[-1]),
                                    channels_out=int(model.outputs[0].shape[-1]),
                                    split=_split(free), upsamples=upsamples,
                                    precision=arithmetic)
        _CACHE[requested] = _CACHE[key]
        return _CACHE[key]


def clear_cache() -> None:
    """Forget the loaded models of this process."""
    with _LOCK:
        _LOADED.clear()
        _CACHE.clear()


__all__ = ["Predictor", "cached_predictor", "clear_cache", "flexible", "match_threads",
           "upsampling_of"]
