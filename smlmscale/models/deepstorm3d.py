"""``deepstorm3d``: the 3D localization CNN of Deep-STORM3D (Nehme et al., Nat. Methods 2020).

One camera frame in, at camera resolution, ``(H, W, 1)``; out, a voxel grid
``(u H, u W, D)``: ``D`` = ``z_voxels`` channels are the z slices over the patch set's z
range, ``u`` = ``upsampling`` (4) voxels per camera pixel laterally, each voxel in
``[0, scaling_factor]`` (an emitter is a spike of ``scaling_factor``). Fully
convolutional, no pooling: any frame size works.

The network, as the paper's supplementary Fig. S2 and the seed's ``LocalizationCNN``
describe it (written here, not copied):

1. batch normalization of the input (a learnt affine map in inference);
2. a 3 x 3 convolution to ``filters`` (64) feature maps, then five 3 x 3 convolutions at
   camera resolution, each on the features concatenated with the normalized input and
   added to its input features (residual), with dilations 1, 2, 4, 8, 16
   (``dilation_max`` 16) or 1, 2, 4, 1, 1 (``dilation_max`` 4): a receptive field of
   about 32 (resp. 8) camera px, for PSFs as large as a tetrapod's;
3. the features concatenated with the input once more, upsampled by 2 (nearest) and
   convolved, twice (``u`` = 4; any ``u``: 2 x while even, then the rest at once);
4. a 3 x 3 convolution to ``D`` channels and two residual 3 x 3 convolutions at ``D``
   ("refine z and exact xy"), a 1 x 1 convolution, and the paper's hardtanh to
   ``[0, scaling_factor]`` (a ReLU capped at ``scaling_factor``).

Each convolution (but the last) is followed by LeakyReLU(0.2) then batch normalization,
in the seed's order, with "same" zero padding (the seed pads each by its dilation, the
same). The one departure: ``filters`` can be lowered for small problems and CPUs (the
paper's 64 is the default).
Nothing here imports ``keras`` until a model is built. The loss is
:mod:`smlmscale.models.deepstorm3d_loss`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from smlmscale.errors import InputError
from smlmscale.models.architectures import BN_MOMENTUM, check_input_shape, three_ints

#: Dilations of the five camera-resolution layers after the first, by ``dilation_max``.
DILATIONS = {16: (1, 2, 4, 8, 16), 4: (1, 2, 4, 1, 1)}
#: Defaults of the training options this model reads (``train --dilation-max`` ...).
OPTIONS: dict[str, Any] = {"dilation_max": 16, "scaling_factor": 800.0, "filters": 64}
#: Slope of the LeakyReLU activations.
LEAK = 0.2
#: The target channels of a deepstorm3d patch set (:mod:`smlmscale.patches.deepstorm3d`).
TARGET_CHANNELS = 5

__all__ = ["DILATIONS", "OPTIONS", "build_deepstorm3d", "builder_kwargs", "grid_params",
           "loss_params", "output_geometry", "upsampling_steps"]


def upsampling_steps(upsampling: int) -> list[int]:
    """The nearest-upsampling factors applied in turn: 2 while the rest is even.

    >>> upsampling_steps(4), upsampling_steps(6), upsampling_steps(1)
    ([2, 2], [2, 3], [])
    """
    steps, rest = [], int(upsampling)
    while rest > 1 and rest % 2 == 0:
        steps.append(2)
        rest //= 2
    return steps + ([rest] if rest > 1 else [])


def grid_params(params: Mapping[str, Any] | None) -> tuple[int, int]:
    """``(upsampling, z_voxels)`` of a deepstorm3d patch set's attributes.

    Raises
    ------
    InputError
        When they are missing: not a deepstorm3d patch set.
    """
    params = dict(params or {})
    try:
        upsampling, voxels = int(params["upsampling"]), int(params["z_voxels"])
    except (KeyError, TypeError, ValueError):
        raise InputError("a deepstorm3d model needs the voxel grid of its patch set "
                         "(upsampling, z_voxels)",
                         hint="make patches with smlmscale patches --kind deepstorm3d") from None
    return upsampling, voxels


def output_geometry(input_shape: Sequence[int], target_shape: Sequence[int],
                    params: Mapping[str, Any] | None) -> tuple[int, int, int]:
    """The output ``(u H, u W, D)`` the model must give for a patch set.

    Raises
    ------
    InputError
        Targets that are not the sparse ``(H, W, 5)`` maps of the inputs' size, or a patch
        set without its voxel grid.
    """
    height, width, _ = three_ints(input_shape, model="deepstorm3d", what="input")
    target = three_ints(target_shape, model="deepstorm3d", what="target")
    if target != (height, width, TARGET_CHANNELS):
        raise InputError(f"deepstorm3d model needs targets ({height}, {width}, "
                         f"{TARGET_CHANNELS}) (the emitter maps of its inputs), got {target}",
                         hint="make patches with smlmscale patches --kind deepstorm3d")
    upsampling, voxels = grid_params(params)
    return height * upsampling, width * upsampling, voxels


def builder_kwargs(params: Mapping[str, Any] | None, input_shape: Sequence[int],
                   target_shape: Sequence[int]) -> dict[str, Any]:
    """Keyword arguments of :func:`build_deepstorm3d` from the patch set's attributes and
    the training options merged into them (:data:`OPTIONS`)."""
    upsampling, voxels = grid_params(params)
    params = dict(params or {})
    return {"z_voxels": voxels, "upsampling": upsampling,
            **{k: params.get(k) if params.get(k) is not None else v for k, v in OPTIONS.items()}}


def loss_params(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The deepstorm3d loss's parameters from the patch set (grid) and the options."""
    upsampling, voxels = grid_params(attrs)
    scaling = attrs.get("scaling_factor")
    return {"upsampling": upsampling, "z_voxels": voxels,
            "z_range_nm": [float(v) for v in attrs["z_range_nm"]],
            "scaling_factor": float(OPTIONS["scaling_factor"] if scaling is None else scaling)}


def _check(voxels: int, upsampling: int, scaling_factor: float, dilation_max: int,
           filters: int) -> None:
    if int(voxels) < 2 or int(upsampling) < 1 or int(filters) < 1:
        raise InputError(f"deepstorm3d needs z_voxels >= 2, upsampling >= 1 and filters >= 1, "
                         f"got {voxels}, {upsampling}, {filters}")
    if not scaling_factor > 0:
        raise InputError(f"the scaling factor must be greater than 0, got {scaling_factor}",
                         param="scaling_factor")
    if dilation_max not in DILATIONS:
        raise InputError(f"the maximal dilation must be 16 or 4, got {dilation_max}",
                         param="dilation_max")


def _block(layers: Any, x: Any, filters: int, name: str, dilation: int = 1) -> Any:
    """3 x 3 convolution, LeakyReLU(0.2), batch normalization."""
    x = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation,
                      kernel_initializer="he_normal", name=f"{name}_conv")(x)
    x = layers.LeakyReLU(negative_slope=LEAK, name=f"{name}_act")(x)
    return layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)


def build_deepstorm3d(input_shape: Sequence[int], *, z_voxels: int, upsampling: int = 4,
                      scaling_factor: float = 800.0, dilation_max: int = 16,
                      filters: int = 64) -> Any:
    """The Deep-STORM3D localization CNN (see the module docstring).

    Parameters
    ----------
    input_shape : sequence of int
        ``(H, W, 1)``: a normalized camera-resolution patch (any H, W, px).
    z_voxels : int
        ``D``, output channels (z slices), >= 2.
    upsampling : int, optional
        Voxels per camera pixel laterally.
    scaling_factor : float, optional
        The output's upper bound (the spike of one emitter).
    dilation_max : {16, 4}, optional
        The largest dilation of the camera-resolution layers.
    filters : int, optional
        Feature maps of the camera-resolution and upsampling layers.

    Returns
    -------
    keras.Model
        Named ``deepstorm3d``; input ``(None, H, W, 1)``, output
        ``(None, u H, u W, D)`` float32 in ``[0, scaling_factor]``.

    Raises
    ------
    InputError
        For a bad input shape (not one channel) or bad parameters.
    """
    shape = check_input_shape(input_shape, model="deepstorm3d", channels=(1,))
    _check(z_voxels, upsampling, scaling_factor, dilation_max, filters)
    import keras

    layers = keras.layers
    inputs = keras.Input(shape, name="frame")
    image = layers.BatchNormalization(momentum=BN_MOMENTUM, name="input_norm")(inputs)
    out = _block(layers, image, filters, "features")
    for i, dilation in enumerate(DILATIONS[int(dilation_max)]):
        joined = layers.Concatenate(name=f"join{i}")([out, image])
        out = layers.Add(name=f"residual{i}")([_block(layers, joined, filters, f"dilated{i}",
                                                      dilation), out])
    out = layers.Concatenate(name="join_up")([out, image])
    for i, step in enumerate(upsampling_steps(upsampling)):
        out = layers.UpSampling2D(step, interpolation="nearest", name=f"upsample{i}")(out)
        out = _block(layers, out, filters, f"up{i}")
    out = _block(layers, out, int(z_voxels), "z0")
    for i in (1, 2):
        out = layers.Add(name=f"z_residual{i}")([_block(layers, out, int(z_voxels), f"z{i}"),
                                                 out])
    out = layers.Conv2D(int(z_voxels), 1, name="voxels")(out)
    outputs = layers.ReLU(max_value=float(scaling_factor), name="hardtanh")(out)
    return keras.Model(inputs, outputs, name="deepstorm3d")
