"""The receptive field of a Keras model, derived from its layers (not guessed).

For every tensor of a functional model, track in input pixels

- ``jump``: the distance between two neighbouring pixels of the tensor, and
- ``radius``: how far from a tensor pixel's centre an input pixel can influence it,

through the layers: a convolution or pooling with kernel ``k``, stride ``s`` and
dilation ``d`` adds ``(k - 1) / 2 * d * jump`` to the radius (rounded up: "same"
padding is asymmetric for even kernels) and multiplies the jump by ``s``; a transposed
convolution or upsampling by ``s`` divides the jump by ``s`` and adds its kernel's reach
at the new jump plus the half-pixel of the nearest source; merges (concatenate, add)
take the largest radius; element-wise layers (activations, batch norm in inference
mode, dropout, casts) keep both. An unknown layer that changes the spatial size is an
error rather than a guess.
"""

from __future__ import annotations

import math
from typing import Any

_SPATIAL = ("Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D")
_POOLS = ("MaxPooling2D", "AveragePooling2D")
_TRANSPOSED = ("Conv2DTranspose",)
_UPSAMPLING = ("UpSampling2D",)
_MERGES = ("Concatenate", "Add", "Multiply", "Average", "Maximum", "Minimum", "Subtract")


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def _step(layer: Any, fields: list[tuple[float, float]]) -> tuple[float, float]:
    """``(radius, jump)`` of a layer's output from those of its inputs."""
    name = type(layer).__name__
    radius = max(r for r, _ in fields)
    jump = fields[0][1]
    config = layer.get_config()
    if name in _SPATIAL:
        k = max(_pair(config["kernel_size"]))
        s = max(_pair(config.get("strides", 1)))
        d = max(_pair(config.get("dilation_rate", 1)))
        return radius + math.ceil((k - 1) / 2) * d * jump, jump * s
    if name in _POOLS:
        k = max(_pair(config["pool_size"]))
        s = max(_pair(config.get("strides") or config["pool_size"]))
        return radius + math.ceil((k - 1) / 2) * jump, jump * s
    if name in _TRANSPOSED:
        k = max(_pair(config["kernel_size"]))
        s = max(_pair(config.get("strides", 1)))
        new_jump = jump / s
        return radius + jump / 2 + math.ceil((k - 1) / 2) * new_jump, new_jump
    if name in _UPSAMPLING:
        s = max(_pair(config["size"]))
        return radius + jump / 2, jump / s
    if name in _MERGES or len(fields) > 1:
        if len({j for _, j in fields}) > 1:
            raise ValueError(f"layer {layer.name} merges tensors of different pixel steps")
        return radius, jump
    return radius, jump


def receptive_field(model: Any, *, upsampling: int = 1) -> tuple[int, int]:
    """Receptive radius and total downsampling of a Keras model, in input pixels.

    Parameters
    ----------
    model : keras.Model
        A functional model whose output grid is its input's (the smlmscale architectures
        but deepstorm3d), or ``upsampling`` times finer (deepstorm3d), built from the
        layers handled here.
    upsampling : int, optional
        Output pixels per input pixel along each axis.

    Returns
    -------
    radius : int
        Rounded up: a tile whose halo is at least this predicts its core exactly as the
        whole frame does.
    align : int
        The largest pixel step inside the model (its total downsampling): input sizes
        and tile edges must be multiples of it.

    Raises
    ------
    ValueError
        For a layer that changes the pixel grid in a way not handled here, or a model
        whose output grid is not ``upsampling`` times its input's.
    """
    fields: dict[int, tuple[float, float]] = {}
    largest = 1.0
    for tensor in model.inputs:
        fields[id(tensor)] = (0.0, 1.0)
    for layer in _layers_in_order(model):
        node = layer._inbound_nodes[0]
        inputs = [fields[id(t)] for t in node.input_tensors if id(t) in fields]
        if not inputs:
            continue
        name = type(layer).__name__
        before, after = node.input_tensors[0].shape, node.output_tensors[0].shape
        handled = name in _SPATIAL + _POOLS + _TRANSPOSED + _UPSAMPLING + _MERGES
        if not handled and len(before) == 4 and tuple(before[1:3]) != tuple(after[1:3]):
            raise ValueError(f"cannot derive the receptive field through layer {layer.name} "
                             f"({name}), which changes the spatial size")
        result = _step(layer, inputs)
        largest = max(largest, result[1])
        for tensor in node.output_tensors:
            fields[id(tensor)] = result
    radius, jump = fields[id(model.outputs[0])]
    if not math.isclose(jump * upsampling, 1.0):
        raise ValueError(f"the model's output pixels step {jump} input pixels, not "
                         f"1/{upsampling}")
    return int(math.ceil(radius)), int(round(largest))


def _layers_in_order(model: Any) -> list[Any]:
    """The model's layers, inputs before the layers that use them."""
    return [layer for layer in model.layers if layer._inbound_nodes]


__all__ = ["receptive_field"]
