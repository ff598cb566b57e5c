"""``locnet``: a DECODE-like localization network at camera resolution.

The network follows DECODE (Speiser et al., Nat. Methods 2021): a *frame* U-Net whose
weights are shared by the K consecutive frames of the input (applied to each frame on its
own), the K feature maps concatenated, a *context* U-Net over them, one shared 3x3
convolution and 1x1-convolution heads giving, per camera pixel, a detection probability,
the sub-pixel offset of the emitter from the pixel centre (and its z), its photons, their
standard deviations and the background. The output channels, in this order
(:func:`output_names`), are

- 2D (8): ``p, photons, dx, dy, sigma_photons, sigma_x, sigma_y, background``;
- 3D (10): ``p, photons, dx, dy, z, sigma_photons, sigma_x, sigma_y, sigma_z, background``,

with ``p`` in (0, 1), ``dx, dy`` in (-1, 1) px from the pixel centre, ``z`` in nm within
the z range, ``photons`` in (0, photon_scale) photons, sigmas > 0 in photons, px, px, nm
and ``background`` >= 0 in the patch set's background units. Nothing here imports
``keras`` until a model is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from smlmscale.errors import InputError
from smlmscale.models.architectures import check_input_shape, three_ints
from smlmscale.models.locnet_layout import HEAD_CONV_LAYER, pooling_factor

#: Camera frames per input (the centre frame and K//2 on either side).
CONTEXTS = (1, 3)
#: Target channels -> whether the patch set is 3D (``[occ, photons, dx, dy, (z), bg]``).
TARGET_CHANNELS = {5: False, 6: True}
#: Default head constants: photons (the photon head's maximum), z range (nm).
DEFAULT_PHOTON_SCALE = 10_000.0
DEFAULT_Z_RANGE_NM = (-500.0, 500.0)
#: Default background scale per ``background_units`` of the patch set.
DEFAULT_BACKGROUND_SCALE = {"photons/px": 10.0, "input": 1.0}
#: Unit of each sigma head at softplus(0) ~ 0.69 of it, relative to its range, and the
#: floor added to it: sigma_x,y in px, sigma_photons in photon_scale, sigma_z in half z range.
SIGMA_UNIT = {"xy": 1.0, "photons": 0.1, "z": 0.1}
SIGMA_FLOOR = 0.01
#: Initial bias of the detection head: sigmoid(-4) ~ 0.018, a sparse prior.
P_BIAS = -4.0
#: Default filters at full resolution and pooling levels of both U-Nets. 24 rather than
#: 16: on the accuracy benchmark's 10,000 simulated steps the validation loss falls from
#: 499.6 to 480.6 and the lateral RMSE at 0.5 emitters/um^2 from 1.64 to 1.49x the CRLB
#: (1.55 to 1.47x on movies of other seeds); training takes 1,034 s instead of 806, and
#: bfloat16 prediction of 256 px frames 28 instead of 44 frames/s (2 CPU cores). Short runs
#: favour 16: after the demo's 1,000 steps its Jaccard is 0.924 at 24 and 0.951 at 16.
DEFAULT_FILTERS = 24
DEFAULT_DEPTH = 2
#: Default 3x3 convolutions at the full-resolution level of each U-Net, on the way down and
#: on the way up (DECODE has two at every level). Two rather than one: on the accuracy
#: benchmark's 10,000 simulated steps (bfloat16 training) the validation loss falls from
#: 484.7 to 467.8 and the lateral RMSE at 0.5 emitters/um^2 from 1.48 to 1.27x the CRLB
#: (1.47 to 1.30x on movies of other seeds); training takes 929 s instead of 799. The
#: default model with the targets' collision rule: 1.42x on the benchmark's movie, 1.21-1.26x
#: on three others (1.26x and 1.20-1.25x once duplicated extra candidates are dropped,
#: :data:`smlmscale.localize.locnet_windows.MERGE_PX`). Prediction costs 22 % more in
#: float32, 29 % in bfloat16 (256 px).
DEFAULT_FULL_CONVS = 2
#: Default filters of the shared 3x3 convolution before the 1x1 heads (0: none).
DEFAULT_HEAD_FILTERS = 16
#: Defaults of the training options this model reads (``train --filters``).
OPTIONS: dict[str, Any] = {"filters": DEFAULT_FILTERS}
#: Default initial learning rate of Adam for locnet (``train --lr``): on the accuracy
#: benchmark's 10,000 simulated steps, 2e-3 reaches a validation loss of 460.0 where 1e-3
#: reaches 470.3, and the lateral RMSE at 0.5 emitters/um^2 falls from 1.83 to 1.50x the CRLB.
DEFAULT_LR = 2e-3

__all__ = ["CONTEXTS", "DEFAULT_DEPTH", "DEFAULT_FILTERS", "DEFAULT_FULL_CONVS",
           "DEFAULT_HEAD_FILTERS",
           "DEFAULT_LR", "DEFAULT_PHOTON_SCALE",
           "DEFAULT_Z_RANGE_NM", "OPTIONS", "build_locnet", "builder_kwargs", "channel_index",
           "output_channels", "output_names"]


def output_names(is_3d: bool) -> tuple[str, ...]:
    """Names of the output channels, in order (8 in 2D, 10 in 3D)."""
    if is_3d:
        return ("p", "photons", "dx", "dy", "z", "sigma_photons", "sigma_x", "sigma_y",
                "sigma_z", "background")
    return ("p", "photons", "dx", "dy", "sigma_photons", "sigma_x", "sigma_y", "background")


def channel_index(is_3d: bool) -> dict[str, int]:
    """Output channel name -> index, e.g. ``{"p": 0, "photons": 1, ...}``."""
    return {name: i for i, name in enumerate(output_names(is_3d))}


def _is_3d(target_channels: int) -> bool:
    try:
        return TARGET_CHANNELS[int(target_channels)]
    except (KeyError, TypeError, ValueError):
        raise InputError(f"locnet model needs targets of 5 (2D) or 6 (3D) channels, "
                         f"got {target_channels}",
                         hint="make patches with smlmscale patches --kind frames") from None


def output_channels(target_channels: int) -> int:
    """Output channels of the model for targets of ``target_channels`` (5 -> 8, 6 -> 10).

    Raises
    ------
    InputError
        For any other target channel count.
    """
    return len(output_names(_is_3d(target_channels)))


def loss_params(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``locnet`` loss's parameters a patch set decides: ``max_emitters`` (the most
    emitters of one patch, at least 1; the mixture gathers that many per sample)."""
    return {"max_emitters": max(1, int(attrs.get("max_emitters") or 64))}


def builder_kwargs(params: Mapping[str, Any] | None, input_shape: Sequence[int],
                   target_shape: Sequence[int]) -> dict[str, Any]:
    """Keyword arguments of :func:`build_locnet` from a patch set's attributes.

    Reads from ``params`` (all optional): ``photon_scale`` (photons, default
    :data:`DEFAULT_PHOTON_SCALE`), ``z_range_nm`` (``[lo, hi]``, default
    :data:`DEFAULT_Z_RANGE_NM` in 3D), ``background_scale`` (default 10 for
    ``background_units`` ``"photons/px"``, 1 for ``"input"``), ``is_3d`` and ``context``
    (checked against the targets' channels and the inputs' channels), ``filters``,
    ``depth``, ``full_convs`` and ``head_filters`` (0 for none).

    Raises
    ------
    InputError
        When ``is_3d`` or ``context`` disagree with the shapes.
    """
    params = dict(params or {})
    height, width, context = three_ints(input_shape, model="locnet", what="input")
    is_3d = _is_3d(three_ints(target_shape, model="locnet", what="target")[2])
    for key, value in (("is_3d", is_3d), ("context", context)):
        if params.get(key) is not None and params[key] != value:
            raise InputError(f"the patch set records {key} = {params[key]!r}, but its "
                             f"shapes give {value!r}", hint="make the patch set again")
    kwargs: dict[str, Any] = {"is_3d": is_3d}
    kwargs["photon_scale"] = float(params.get("photon_scale") or DEFAULT_PHOTON_SCALE)
    if is_3d:
        kwargs["z_range_nm"] = tuple(params.get("z_range_nm") or DEFAULT_Z_RANGE_NM)
    units = params.get("background_units", "photons/px")
    kwargs["background_scale"] = float(params.get("background_scale")
                                       or DEFAULT_BACKGROUND_SCALE.get(units, 1.0))
    kwargs.update({k: int(params[k]) for k in ("filters", "depth", "full_convs")
                   if params.get(k)})
    if params.get("head_filters") is not None:
        kwargs["head_filters"] = int(params["head_filters"])
    return kwargs


def _check(photon_scale: float, z_range_nm: Any, background_scale: float, is_3d: bool,
           filters: int, depth: int, head_filters: int, full_convs: int
           ) -> tuple[float, float] | None:
    if not photon_scale > 0 or not background_scale > 0:
        raise InputError(f"locnet needs a positive photon scale and background scale, got "
                         f"{photon_scale!r} and {background_scale!r}")
    if int(filters) < 1 or int(depth) < 0 or int(head_filters) < 0 or int(full_convs) < 1:
        raise InputError(f"locnet needs filters >= 1, depth >= 0, head_filters >= 0 and "
                         f"full_convs >= 1, got {filters}, {depth}, {head_filters}, "
                         f"{full_convs}")
    if not is_3d:
        return None
    try:
        lo, hi = (float(v) for v in z_range_nm)
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not hi > lo:
        raise InputError(f"a 3D locnet needs a z range [lo, hi] in nm with lo < hi, got "
                         f"{z_range_nm!r}", hint="e.g. z_range_nm = [-500, 500]")
    return lo, hi


def _conv(layers: Any, x: Any, filters: int, name: str, kernel: int = 3) -> Any:
    return layers.Conv2D(filters, kernel, padding="same", activation="elu",
                         kernel_initializer="he_normal", name=name)(x)


def _unet(keras: Any, x: Any, *, filters: int, depth: int, prefix: str,
          full_convs: int = 1) -> Any:
    """One conv per level down, at the bottom and per level up (``full_convs`` down and up
    at full resolution, layers ``down0, down0_2, ...``, ``conv0, conv0_2, ...``); the skip
    joins a reduced (1x1-convolved, at low resolution) copy of the level below, so the
    costly full-resolution convolutions see ``2 * filters`` channels only."""
    layers, skips = keras.layers, []

    def more(x: Any, name: str, level: int) -> Any:
        for k in range(2, int(full_convs) + 1 if level == 0 else 2):
            x = _conv(layers, x, filters, f"{name}_{k}")
        return x

    for level in range(depth):
        x = _conv(layers, x, filters * 2 ** level, f"{prefix}_down{level}")
        x = more(x, f"{prefix}_down{level}", level)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"{prefix}_pool{level}")(x)
    x = _conv(layers, x, filters * 2 ** depth, f"{prefix}_bottom")
    for level in reversed(range(depth)):
        x = _conv(layers, x, filters * 2 ** level, f"{prefix}_reduce{level}", kernel=1)
        x = layers.UpSampling2D(2, name=f"{prefix}_up{level}")(x)
        x = layers.Concatenate(name=f"{prefix}_join{level}")([x, skips[level]])
        x = _conv(layers, x, filters * 2 ** level, f"{prefix}_conv{level}")
        x = more(x, f"{prefix}_conv{level}", level)
    return x


def _heads(keras: Any, x: Any, *, photon_scale: float, z_range: tuple | None,
           background_scale: float) -> list[Any]:
    """The 1x1 heads in the output order, each ``(conv activation, scale, offset)``."""
    layers = keras.layers

    def head(name: str, channels: int, activation: str, scale: float = 1.0,
             offset: float = 0.0, bias: float = 0.0) -> Any:
        y = layers.Conv2D(channels, 1, activation=activation, name=f"head_{name}",
                          bias_initializer=keras.initializers.Constant(bias))(x)
        if scale == 1.0 and offset == 0.0:
            return y
        return layers.Rescaling(scale, offset, name=f"scale_{name}")(y)

    def sigma(name: str, channels: int, unit: float) -> Any:
        return head(name, channels, "softplus", unit, SIGMA_FLOOR * unit)

    out = [head("p", 1, "sigmoid", bias=P_BIAS), head("photons", 1, "sigmoid", photon_scale),
           head("dxy", 2, "tanh")]
    if z_range is not None:
        half, centre = (z_range[1] - z_range[0]) / 2, (z_range[1] + z_range[0]) / 2
        out.append(head("z", 1, "tanh", half, centre))
    out += [sigma("sigma_photons", 1, SIGMA_UNIT["photons"] * photon_scale),
            sigma("sigma_xy", 2, SIGMA_UNIT["xy"])]
    if z_range is not None:
        out.append(sigma("sigma_z", 1, SIGMA_UNIT["z"] * half))
    out.append(head("background", 1, "softplus", background_scale))
    return out


def build_locnet(input_shape: Sequence[int], *, is_3d: bool = False,
                 photon_scale: float = DEFAULT_PHOTON_SCALE,
                 z_range_nm: Sequence[float] | None = None, background_scale: float = 1.0,
                 filters: int = DEFAULT_FILTERS, depth: int = DEFAULT_DEPTH,
                 head_filters: int = DEFAULT_HEAD_FILTERS,
                 full_convs: int = DEFAULT_FULL_CONVS) -> Any:
    """The locnet model: K camera frames in, the per-pixel localization maps out.

    Architecture: a frame U-Net (``filters`` at full resolution, doubled per level,
    ``depth`` 2x2 poolings, ELU; ``full_convs`` 3x3 convolutions at full resolution on the
    way down and on the way up, one per lower level) applied with shared weights to each of the K frames, the K
    feature maps concatenated, a context U-Net of the same shape over them, one 3x3
    convolution of ``head_filters`` (ELU) that every head reads, and one 1x1 convolution
    per head: ``p`` sigmoid (bias -4, a sparse prior); ``photons`` sigmoid x
    ``photon_scale``; ``dx, dy`` tanh (px); ``z`` tanh x half the z range + its centre
    (nm); sigmas softplus x unit + 1% of it (units 1 px, 0.1 photon_scale photons, 0.1 x
    half the z range nm); ``background`` softplus x ``background_scale``.

    Departures from DECODE, for CPU speed (the network runs on the camera frame, so every
    full-resolution convolution counts): 24 instead of 48 filters; two 3x3 convolutions at
    the full-resolution level but one per lower U-Net level instead of two; the up path reduces channels by a 1x1 convolution at low
    resolution before upsampling (nearest) instead of a convolution after it; one 3x3
    convolution shared by the heads instead of one per head. Measured with
    ``predict_on_batch`` on 256x256x3 frames (batch 8, 2 CPU threads, before the shared
    head convolution): 14.6 frames/s at 16 filters (24: 8.3, 32: 5.8) against 0.96 for
    ``deepstorm`` on the 4x-upsampled frame (1024x1024); through ``predict`` on a 256 px
    movie (``benchmarks/test_predict.py``) 24 filters with one full-resolution convolution
    gave 28 frames/s in bfloat16 and 20 in float32 (two: about 22 and 16.5, from the
    halves' measured cost), against 0.89 for deepstorm x4 and 15 for Picasso. The
    shared head convolution adds 9 % in float32 and 3 % in bfloat16 (16 filters, one
    thread, 264 px: 30.7 -> 33.5 and 21.1 -> 21.8 ms/frame); trained by the accuracy
    benchmark's 10,000 simulated steps it lowers the validation loss from 478.5 to
    470.3. Training
    recomputes the frame features for every window of K frames, as DECODE does;
    prediction computes them once per frame and shares them between the K windows that
    read the frame (:func:`~smlmscale.models.locnet_layout.split_locnet`). Sigmas use
    softplus + a floor, not a sigmoid, so they are not bounded above.

    Parameters
    ----------
    input_shape : sequence of int
        ``(H, W, K)``: any H, W that are multiples of ``2 ** depth`` px (None for any), K
        = 1 or 3 camera frames, normalized.
    is_3d : bool, optional
        Add the z and sigma_z heads (10 output channels instead of 8).
    photon_scale : float
        Largest photon count the photon head can give, photons.
    z_range_nm : sequence of float, optional
        ``(lo, hi)`` in nm of the z head; needed when ``is_3d``.
    background_scale : float, optional
        Scale of the background head, in the targets' background units.
    filters : int, optional
        Filters of the full-resolution level of both U-Nets.
    depth : int, optional
        Pooling levels of each U-Net.
    head_filters : int, optional
        Filters of the 3x3 convolution (ELU) that all heads read, at full resolution; 0
        for none (the heads then read the context U-Net directly).
    full_convs : int, optional
        3x3 convolutions at full resolution on the way down and on the way up of each
        U-Net (at least 1).

    Returns
    -------
    keras.Model
        Input ``(None, H, W, K)``, output ``(None, H, W, 8 or 10)`` float32.

    Raises
    ------
    InputError
        For a bad shape, K not 1 or 3, non-positive scales, or a bad 3D z range.
    """
    z_range = _check(photon_scale, z_range_nm, background_scale, is_3d, filters, depth,
                     head_filters, full_convs)
    shape = tuple(input_shape)
    known = [64 if s is None else s for s in shape[:2]] + list(shape[2:])
    check_input_shape(known, model="locnet", factor=pooling_factor(depth), channels=CONTEXTS)
    import keras

    inputs = keras.Input(shape, name="frames")
    frame_in = keras.Input((None, None, 1), name="frame")
    frame_net = keras.Model(frame_in, _unet(keras, frame_in, filters=filters, depth=depth,
                                            prefix="frame", full_convs=full_convs),
                            name="frame_net")
    context = shape[2]
    maps = [frame_net(inputs[..., k:k + 1]) for k in range(context)]
    x = maps[0] if context == 1 else keras.layers.Concatenate(name="frames_join")(maps)
    x = _unet(keras, x, filters=filters, depth=depth, prefix="context", full_convs=full_convs)
    if head_filters:
        x = _conv(keras.layers, x, int(head_filters), HEAD_CONV_LAYER)
    out = _heads(keras, x, photon_scale=float(photon_scale), z_range=z_range,
                 background_scale=float(background_scale))
    outputs = keras.layers.Concatenate(name="locnet_output")(out)
    return keras.Model(inputs, outputs, name="locnet")
