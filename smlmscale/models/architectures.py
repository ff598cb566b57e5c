"""Keras 3 builders for the seeds' architectures, with their input geometry checked.

Every builder takes ``input_shape = (H, W, C)`` in pixels and channels (no batch axis)
and returns an uncompiled ``keras.Model`` whose output is ``(H, W, out_channels)``:
all four networks are fully convolutional and keep the patch size. ``keras`` is
imported inside the builders only, so ``import smlmscale.models`` stays light.

- ``deepstorm``: Deep-STORM encoder-decoder (32-64-128, 512, back); H, W multiples of 8.
- ``unet``: seed 001 U-Net (6x6 kernels, LeakyReLU 0.2); H, W multiples of 8.
- ``autoencoder``: seed 003 DSIR (3 encoder, 4 decoder stages); H, W multiples of 8.
- ``counts``: seed 000 tile (+ estimate) -> per-pixel counts; any H, W; C is 1 or 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from smlmscale.errors import InputError

# Batch-norm moving averages follow the batches at 0.9 (PyTorch's 0.1, as DSIR trains)
# rather than Keras' 0.99: on the few hundred steps of a small patch set, 0.99 leaves the
# inference-mode statistics far from the data and the validation loss lagging.
BN_MOMENTUM = 0.9
#: Downsampling of the three-stage encoders: their patch sides are multiples of it, px.
POOLED = 8
#: Input channels of the counts network: the tile, and optionally the count estimate.
COUNTS_CHANNELS = (1, 2)

__all__ = ["BN_MOMENTUM", "COUNTS_CHANNELS", "POOLED", "build_autoencoder", "build_counts",
           "build_deepstorm", "build_unet", "check_input_shape", "three_ints"]


def three_ints(shape: Sequence[int], *, model: str, what: str) -> tuple[int, int, int]:
    """``shape`` as ``(H, W, C)`` of positive ints.

    Raises
    ------
    InputError
        Naming the model and ``what`` (``"input"``, ``"target"``) the shape is of.
    """
    try:
        values = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or min(values) < 1:
        article = "an" if what[:1] in "aeiou" else "a"
        raise InputError(f"{model} model needs {article} {what} shape (H, W, C) of positive "
                         f"integers, got {tuple(shape) if shape is not None else None}",
                         hint=f"patch sets store {what}s as (N, H, W, C)")
    return values  # type: ignore[return-value]


def check_input_shape(input_shape: Sequence[int], *, model: str, factor: int = 1,
                      channels: Sequence[int] | None = None) -> tuple[int, int, int]:
    """Validate ``(H, W, C)`` for a model and return it as a tuple of ints.

    Parameters
    ----------
    input_shape : sequence of int
        ``(H, W, C)``: patch height and width in pixels, channels.
    model : str
        Model kind, for the message.
    factor : int, optional
        Total downsampling factor; H and W must be positive multiples of it.
    channels : sequence of int, optional
        Allowed channel counts; any positive count when None.

    Returns
    -------
    tuple of int
        ``(H, W, C)``.

    Raises
    ------
    InputError
        When the shape is not three positive integers, H or W is not a multiple of
        ``factor``, or C is not allowed.
    """
    shape = three_ints(input_shape, model=model, what="input")
    height, width, chans = shape
    if height % factor or width % factor:
        raise InputError(f"{model} model needs patch height and width divisible by {factor}, "
                         f"got {height}x{width} px",
                         hint=f"make patches whose size is a multiple of {factor} px")
    if channels is not None and chans not in channels:
        allowed = " or ".join(str(c) for c in channels)
        raise InputError(f"{model} model takes {allowed} input channel(s), got {chans}",
                         hint="use a patch set of the kind this model is made for")
    return shape


def _start(input_shape: Sequence[int], **check: Any) -> tuple[Any, Any]:
    """``keras`` (imported now) and the ``keras.Input`` of a checked ``(H, W, C)``."""
    shape = check_input_shape(input_shape, **check)
    import keras

    return keras, keras.Input(shape)


def _conv_bn_relu(keras: Any, x: Any, filters: int) -> Any:
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False,
                            kernel_initializer="orthogonal")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    return keras.layers.Activation("relu")(x)


def build_deepstorm(input_shape: Sequence[int], *, out_channels: int = 1) -> Any:
    """Deep-STORM's fully convolutional encoder-decoder on the upsampled frame.

    Three encoder blocks (3x3 conv + batch norm + ReLU with 32, 64 and 128 filters,
    each followed by 2x2 max pooling), a 512-filter bottleneck block, three decoder
    blocks (2x nearest upsampling then 128, 64, 32 filters) and a linear 1x1
    convolution to ``out_channels``.

    Parameters
    ----------
    input_shape : sequence of int
        ``(H, W, C)`` of the upsampled input patch; H and W multiples of 8 px.
    out_channels : int, optional
        Channels of the predicted density map.

    Returns
    -------
    keras.Model
        Input ``(None, H, W, C)``, output ``(None, H, W, out_channels)`` float32.

    Raises
    ------
    InputError
        When H or W is not a multiple of 8.
    """
    keras, inputs = _start(input_shape, model="deepstorm", factor=POOLED)
    x = inputs
    for filters in (32, 64, 128):
        x = _conv_bn_relu(keras, x, filters)
        x = keras.layers.MaxPooling2D(2)(x)
    x = _conv_bn_relu(keras, x, 512)
    for filters in (128, 64, 32):
        x = keras.layers.UpSampling2D(2)(x)
        x = _conv_bn_relu(keras, x, filters)
    outputs = keras.layers.Conv2D(out_channels, 1, activation="linear",
                                  kernel_initializer="orthogonal", name="density")(x)
    return keras.Model(inputs, outputs, name="deepstorm")


def _unet_conv(keras: Any, x: Any, filters: int, strides: int = 1) -> Any:
    x = keras.layers.Conv2D(filters, 6, strides=strides, padding="same",
                            kernel_initializer="he_normal")(x)
    x = keras.layers.LeakyReLU(negative_slope=0.2)(x)
    return keras.layers.BatchNormalization(axis=-1, momentum=BN_MOMENTUM)(x)


def build_unet(input_shape: Sequence[int], *, out_channels: int = 1) -> Any:
    """The U-Net of seed 001 (localization + spectral patches, 16x64 px in the seed).

    Encoder: three stages of a 6x6 conv and a 6x6 stride-2 conv (16, 32, 64 filters),
    each LeakyReLU(0.2) + batch norm, then a 128-filter conv at 1/8 resolution.
    Decoder: three stages of a 6x6 transposed conv (64, 32, 16 filters) concatenated
    with the matching encoder output, 2x upsampling and a 6x6 conv; a 1x1 sigmoid
    convolution gives ``out_channels`` values in (0, 1).

    Parameters
    ----------
    input_shape : sequence of int
        ``(H, W, C)``; H and W multiples of 8 px (seed: ``(16, 64, 1)``).
    out_channels : int, optional
        Output channels.

    Returns
    -------
    keras.Model
        Input ``(None, H, W, C)``, output ``(None, H, W, out_channels)`` in (0, 1).

    Raises
    ------
    InputError
        When H or W is not a multiple of 8.
    """
    keras, inputs = _start(input_shape, model="unet", factor=POOLED)
    x = inputs
    skips = []
    for filters in (16, 32, 64):
        x = _unet_conv(keras, x, filters)
        x = _unet_conv(keras, x, filters, strides=2)
        skips.append(x)
    x = _unet_conv(keras, x, 128)
    for filters, skip in zip((64, 32, 16), reversed(skips)):
        x = keras.layers.Conv2DTranspose(filters, 6, padding="same")(x)
        x = keras.layers.Concatenate()([x, skip])
        x = keras.layers.UpSampling2D(2)(x)
        x = _unet_conv(keras, x, filters)
    outputs = keras.layers.Conv2D(out_channels, 1, activation="sigmoid", name="image")(x)
    return keras.Model(inputs, outputs, name="unet")


def build_autoencoder(input_shape: Sequence[int], *, out_channels: int = 1) -> Any:
    """The DSIR convolutional auto-encoder of seed 003.

    Encoder: three stages of 3x3 conv + batch norm + ReLU + 2x2 max pooling with 16,
    8 and 8 filters (208 -> 26 px in the seed). Decoder: three 2x2 stride-2
    transposed convolutions (8, 16, 8 filters) each with batch norm + ReLU, then a
    3x3 conv to ``out_channels`` with batch norm + ReLU, so the output is
    non-negative.

    Parameters
    ----------
    input_shape : sequence of int
        ``(H, W, C)`` of the upsampled frame; H and W multiples of 8 px
        (seed: ``(208, 208, 1)``, a 26x26 px frame upsampled 8x).
    out_channels : int, optional
        Output channels.

    Returns
    -------
    keras.Model
        Input ``(None, H, W, C)``, output ``(None, H, W, out_channels)`` >= 0.

    Raises
    ------
    InputError
        When H or W is not a multiple of 8.
    """
    keras, inputs = _start(input_shape, model="autoencoder", factor=POOLED)
    layers = keras.layers
    x = inputs
    for filters in (16, 8, 8):
        x = layers.Conv2D(filters, 3, padding="same")(x)
        x = layers.Activation("relu")(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))
        x = layers.MaxPooling2D(2)(x)
    for filters in (8, 16, 8):
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
        x = layers.Activation("relu")(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))
    x = layers.Conv2D(out_channels, 3, padding="same")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    outputs = layers.Activation("relu", name="image")(x)
    return keras.Model(inputs, outputs, name="autoencoder")


def build_counts(input_shape: Sequence[int], *, out_channels: int = 1) -> Any:
    """Per-pixel localization counts from a rendered STORM tile (seed 000).

    Channel 0 is the tile, an optional channel 1 the intensity-based count estimate.
    Four 3x3 conv + ReLU layers (32, 64, 64, 32 filters) and a 1x1 convolution with a
    softplus output, so the predicted counts are positive and the Poisson loss has a
    gradient everywhere.

    Parameters
    ----------
    input_shape : sequence of int
        ``(H, W, C)`` with C = 1 (tile) or 2 (tile, estimate); any H, W in px.
    out_channels : int, optional
        Output channels (counts per pixel per channel).

    Returns
    -------
    keras.Model
        Input ``(None, H, W, C)``, output ``(None, H, W, out_channels)`` > 0,
        localizations per pixel.

    Raises
    ------
    InputError
        When C is not 1 or 2.
    """
    keras, inputs = _start(input_shape, model="counts", channels=COUNTS_CHANNELS)
    x = inputs
    for filters in (32, 64, 64, 32):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                kernel_initializer="he_normal")(x)
    outputs = keras.layers.Conv2D(out_channels, 1, activation="softplus", name="counts")(x)
    return keras.Model(inputs, outputs, name="counts")
