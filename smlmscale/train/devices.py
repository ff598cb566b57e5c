"""Where training runs: the distribution strategy and the compute precision.

Several visible GPUs get a :class:`tf.distribute.MirroredStrategy` (one replica per GPU,
the batch split between them, gradients all-reduced); one GPU or the CPU get the default
strategy. Mixed precision (float16 compute, float32 weights) is only offered on a GPU:
on a CPU it is slower, not faster.

On a CPU that multiplies bfloat16 natively (AVX512-BF16, AMX), ``train --precision``
``bfloat16`` (``auto``'s choice for locnet there) trains the clone that bfloat16
prediction uses (:func:`smlmscale.predict.precision.with_precision`): bfloat16 compute
with float32 weights, the output heads and the loss in float32. On the accuracy
benchmark's locnet training (this project's 2-core AVX512-BF16 machine) it took 799 s
instead of 1,034 for the same accuracy (``benchmarks/RESULTS.md``). The model folder's
``model.keras`` is saved with float32 layers
(:func:`smlmscale.predict.precision.float32_layers`) whatever the
arithmetic of training, so ``predict --precision`` alone decides how a model computes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from smlmscale.errors import InputError


def visible_gpus() -> list[str]:
    """Names of the GPUs TensorFlow sees (``CUDA_VISIBLE_DEVICES`` applies)."""
    import tensorflow as tf

    return [d.name for d in tf.config.list_logical_devices("GPU")]


def choose_strategy(gpus: list[str] | None = None) -> Any:
    """MirroredStrategy over ``gpus`` when there are several, else the default strategy.

    Parameters
    ----------
    gpus : list of str, optional
        Device names; :func:`visible_gpus` when None.
    """
    import tensorflow as tf

    gpus = visible_gpus() if gpus is None else gpus
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(devices=gpus)
    return tf.distribute.get_strategy()


def check_precision(mixed: bool, gpus: list[str] | None = None) -> None:
    """Refuse mixed precision without a visible GPU.

    Raises
    ------
    InputError
        ``mixed`` is true and TensorFlow sees no GPU.
    """
    if mixed and not (visible_gpus() if gpus is None else gpus):
        raise InputError("--mixed-precision needs a GPU, and TensorFlow sees none",
                         hint="leave out --mixed-precision on a CPU, or check the GPU "
                              "with nvidia-smi and CUDA_VISIBLE_DEVICES")


@contextmanager
def precision(mixed: bool, gpus: list[str] | None = None) -> Iterator[str]:
    """Set Keras' global dtype policy for the models built inside; restore it after.

    Yields
    ------
    str
        The policy name: ``"mixed_float16"`` or ``"float32"``.

    Raises
    ------
    InputError
        Mixed precision asked for without a visible GPU.
    """
    import keras

    check_precision(mixed, gpus)
    before = keras.config.dtype_policy()
    name = "mixed_float16" if mixed else "float32"
    keras.config.set_dtype_policy(name)
    try:
        yield name
    finally:
        keras.config.set_dtype_policy(before)


def check_arithmetic(precision: str, *, mixed: bool, gpus: list[str] | None = None) -> None:
    """Refuse ``--mixed-precision`` with ``--precision bfloat16``, or without a GPU.

    Raises
    ------
    InputError
        ``mixed`` with ``precision == "bfloat16"``, or ``mixed`` and no visible GPU.
    """
    if not mixed:
        return
    if precision == "bfloat16":
        raise InputError("--mixed-precision (float16 on a GPU) and --precision bfloat16 "
                         "exclude each other", hint="give one of them")
    check_precision(True, gpus)


def train_arithmetic(precision: str, *, model_kind: str, mixed: bool,
                     gpus: list[str] | None = None, is_3d: bool = False) -> str:
    """``"float16"`` (``--mixed-precision``), ``"bfloat16"`` or ``"float32"``: how a run
    of ``train --precision`` computes here.

    ``auto`` means bfloat16 for a 2D locnet on a CPU with native bfloat16 and no visible
    GPU (:func:`smlmscale.predict.precision.resolve_precision`), float32 otherwise: a 3D
    locnet (``is_3d``, a z head) learns z worse in bfloat16. On the 3D accuracy
    benchmark's training (8 x 500 simulated steps, astigmatic PSF, this project's 2-core
    AVX512-BF16 machine) bfloat16 took 542 s against float32's 611 s for a validation
    loss of 453.6 against 441.6, and gave a 3D Jaccard index of 0.963 against 0.971 and
    an axial RMSE of 86 against 74 nm (lateral 23.0 against 20.4 nm; the same float32
    prediction of both). In 2D the two were equally accurate (``benchmarks/RESULTS.md``).

    Raises
    ------
    InputError
        What :func:`check_arithmetic` refuses, or an unknown precision.
    """
    from smlmscale.predict.precision import resolve_precision

    gpus = visible_gpus() if gpus is None else gpus
    check_arithmetic(precision, mixed=mixed, gpus=gpus)
    if mixed:
        return "float16"
    if precision == "auto" and (gpus or is_3d):
        return "float32"
    return resolve_precision(precision, model_kind=model_kind)


def float32_output(model: Any) -> Any:
    """``model`` with its output cast to float32 (for losses under mixed precision)."""
    import keras

    if model.output.dtype == "float32":
        return model
    out = keras.layers.Activation("linear", dtype="float32", name="float32_output")(model.output)
    return keras.Model(model.inputs, out, name=model.name)


__all__ = ["check_arithmetic", "check_precision", "choose_strategy", "float32_output",
           "precision", "train_arithmetic", "visible_gpus"]
