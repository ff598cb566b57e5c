"""The arithmetic a model predicts in: float32, or bfloat16 where the CPU computes it natively.

CPUs with AVX512-BF16 or AMX-BF16 (Intel Cooper Lake, Sapphire Rapids and later; AMD Zen 4
and later) multiply bfloat16 matrices at about twice the float32 rate. A locnet model
trained in float32 then predicts a 256 px frame in 19 ms instead of 42 (one thread, this
project's dev machine), with outputs within about 0.02 of the detection probability and
0.015 px of the offsets (measured on the m4 model; ``benchmarks/RESULTS.md``). The clone
keeps its variables in float32 (Keras' ``mixed_bfloat16`` policy: bfloat16 compute,
float32 weights) and its output heads entirely in float32, so the maps a model returns
are float32 whichever precision it ran in.

``auto`` (``predict --precision``'s default) picks bfloat16 for locnet models on such a
CPU when no GPU is visible, and float32 everywhere else: on a CPU without native
bfloat16, the conversions make it slower than float32, and the other model kinds were
not validated in it.
"""

from __future__ import annotations

from typing import Any

from smlmscale.errors import InputError

#: ``predict --precision`` values.
PRECISIONS = ("auto", "float32", "bfloat16")
#: CPU flags (``/proc/cpuinfo``) of native bfloat16 matrix arithmetic.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: Layers of a locnet model that stay float32 in bfloat16 prediction (the heads).
FLOAT32_PREFIXES = ("head_", "scale_", "locnet_output")
_CPUINFO = "/proc/cpuinfo"

__all__ = ["BF16_FLAGS", "PRECISIONS", "cpu_has_bf16", "float32_layers", "resolve_precision",
           "with_precision"]


def cpu_has_bf16(cpuinfo: str = _CPUINFO) -> bool:
    """Whether this CPU multiplies bfloat16 natively (one of :data:`BF16_FLAGS`)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in BF16_FLAGS)
    except OSError:
        pass
    return False


def _gpu_visible() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(precision: str, *, model_kind: str | None) -> str:
    """``"float32"`` or ``"bfloat16"``: what ``precision`` means for this model here.

    Parameters
    ----------
    precision : {"auto", "float32", "bfloat16"}
    model_kind : str or None
        The model's ``model`` entry (``"locnet"``, ``"deepstorm"``, ...): ``auto`` picks
        bfloat16 for locnet only.

    Raises
    ------
    InputError
        For any other ``precision``.
    """
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}", param="precision",
                         hint=f"choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if model_kind == "locnet" and cpu_has_bf16() and not _gpu_visible():
        return "bfloat16"
    return "float32"


def _keeps_float32(layer: Any, last: str) -> bool:
    return layer.name.startswith(FLOAT32_PREFIXES) or layer.name == last


def with_precision(model: Any, precision: str, *, input_shape: tuple | None = None) -> Any:
    """``model`` computing in ``precision``, with ``input_shape`` if given: one clone.

    For ``"float32"`` and no ``input_shape``, ``model`` itself. For ``"bfloat16"``, a
    clone with the same float32 weights computing in bfloat16 but for its heads
    (:data:`FLOAT32_PREFIXES`, and the last layer of any other model), which compute in
    float32. ``input_shape`` (without the batch axis, e.g. ``(None, None, K)`` for free
    spatial dimensions) gives the clone another input in the same clone.
    """
    if precision == "float32" and input_shape is None:
        return model
    last = model.layers[-1].name

    def dtype(layer: Any) -> str | None:
        if precision == "float32" or _keeps_float32(layer, last):
            return None
        return "mixed_bfloat16"

    return _clone(model, dtype, input_shape=input_shape)


def float32_layers(model: Any) -> Any:
    """``model`` with every layer computing in float32 (a clone with the same weights and,
    if ``model`` is compiled, a fresh optimizer of the same configuration and its loss),
    or ``model`` itself when it already does: what a model folder saves, so that
    ``predict --precision`` alone decides how a saved model computes."""
    def mixed(layer: Any) -> bool:
        policy = getattr(layer, "dtype_policy", None)
        return policy is not None and getattr(policy, "name", "float32") != "float32"

    def nested(m: Any) -> list[Any]:
        return [x for layer in m.layers
                for x in ([layer, *nested(layer)] if hasattr(layer, "layers") else [layer])]

    if not any(mixed(layer) for layer in nested(model)):
        return model
    copy = _clone(model, lambda layer: "float32")
    if getattr(model, "compiled", False) and model.optimizer is not None:
        optimizer = type(model.optimizer).from_config(model.optimizer.get_config())
        copy.compile(optimizer=optimizer, loss=model.loss)
    return copy


def _clone(model: Any, dtype: Any, *, input_shape: tuple | None = None) -> Any:
    """A clone of ``model`` (nested models too) with its weights, each layer's dtype
    policy ``dtype(layer)`` (None: as it was), and a new input of ``input_shape``."""
    import keras

    def clone(layer: Any) -> Any:
        config = layer.get_config()
        wanted = dtype(layer) if isinstance(layer, keras.layers.Layer) else None
        if wanted is not None and "dtype" in config:
            config["dtype"] = wanted
        return layer.__class__.from_config(config)

    inputs = None if input_shape is None else keras.Input(tuple(input_shape))
    if inputs is not None and isinstance(model.input, (list, tuple)):
        inputs = [inputs]   # a model built as keras.Model([x], y), e.g. float32_output's
    copy = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone,
                                    recursive=True)
    copy.set_weights(model.get_weights())
    return copy
