"""The layout of a built or loaded locnet model (:mod:`smlmscale.models.locnet`), read off
its layers: receptive field and pooling grid, head constants, and the two halves that
prediction runs apart (each frame's features once, shared by the K windows reading it).

The layer names are the contract between the builder and these readers: ``context_pool*``
(one per pooling level), ``context_down0*`` (the full-resolution convolutions on the way
down), :data:`HEAD_CONV_LAYER`, ``scale_photons`` / ``scale_background`` / ``scale_z``
(the heads' constants), ``frame_net`` and ``frames_join`` (the frame U-Net and the
concatenation of its K outputs). Nothing here imports ``keras`` until a model is split.
"""

from __future__ import annotations

from typing import Any

#: Name of the shared 3x3 convolution before the 1x1 heads (:func:`model_field` reads it).
HEAD_CONV_LAYER = "context_head"

__all__ = ["HEAD_CONV_LAYER", "head_constants", "model_field", "pooling_factor",
           "receptive_field_px", "split_locnet"]


def pooling_factor(depth: int) -> int:
    """H and W must be multiples of this (``2 ** depth``), px."""
    return 2 ** int(depth)


def receptive_field_px(depth: int, head_convs: int = 0, full_convs: int = 1) -> int:
    """Radius of the receptive field of a pixel's output, in px.

    Each U-Net has a 3x3 convolution at every level on the way down (``2 ** l`` px each),
    one at the bottom and one per level on the way up, and the pooling grid shifts by up
    to ``2 ** depth - 1`` px: ``4 * 2 ** depth - 3`` px per U-Net, plus 2 px per further
    full-resolution convolution pair (``full_convs - 1``), two U-Nets in series, and 1 px
    per 3x3 convolution before the heads (``head_convs``: 1 with ``head_filters``, else 0).
    """
    per_unet = 4 * 2 ** int(depth) - 3 + 2 * (int(full_convs) - 1)
    return 2 * per_unet + int(head_convs)


def model_field(model: Any) -> tuple[int, int]:
    """``(radius, align)`` in px of a built or loaded locnet model, read off its layers
    (its pooling levels, its full-resolution convolutions and whether it has the shared
    head convolution): its :func:`receptive_field_px` and :func:`pooling_factor`."""
    names = [layer.name for layer in model.layers]
    depth = sum(1 for name in names if name.startswith("context_pool"))
    full = sum(1 for name in names if name.split("_")[:2] == ["context", "down0"])
    return (receptive_field_px(depth, names.count(HEAD_CONV_LAYER), max(full, 1)),
            pooling_factor(depth))


def head_constants(model: Any) -> dict[str, Any]:
    """The head constants recorded in a locnet model's layers.

    Returns
    -------
    dict
        ``is_3d``, ``photon_scale`` (photons), ``z_range_nm`` (``(lo, hi)`` or None),
        ``background_scale`` and ``context`` (K).
    """
    names = {layer.name: layer for layer in model.layers}
    photons = names.get("scale_photons")
    background = names.get("scale_background")
    z = names.get("scale_z")
    z_range = None if z is None else (float(z.offset - z.scale), float(z.offset + z.scale))
    return {"is_3d": z is not None,
            "photon_scale": float(photons.scale) if photons is not None else 1.0,
            "z_range_nm": z_range,
            "background_scale": float(background.scale) if background is not None else 1.0,
            "context": int(model.input_shape[-1])}


def split_locnet(model: Any) -> tuple[Any, Any, int] | None:
    """The two halves of a K = 3 locnet model, to compute each frame's features once.

    A window of K frames applies the shared frame U-Net to each of its frames, so
    consecutive windows of a movie would compute the features of a frame K times; the
    halves let prediction compute them once per frame and feed the context half with
    the K feature maps concatenated in frame order (equal to the whole model, up to
    float32 rounding).

    Parameters
    ----------
    model : keras.Model
        A locnet model (:func:`smlmscale.models.locnet.build_locnet`, or one loaded from
        ``model.keras``).

    Returns
    -------
    tuple or None
        ``(frame_net, context_net, features)``: ``frame_net`` maps ``(B, h, w, 1)``
        normalized frames to ``(B, h, w, features)``; ``context_net`` maps ``(B, h, w,
        K * features)`` to the output maps ``(B, h, w, 8 or 10)``. None for K = 1 (each
        frame is read by one window only: nothing to share).
    """
    import keras

    if int(model.input_shape[-1]) == 1:
        return None
    frame_net = model.get_layer("frame_net")
    context_net = keras.Model(model.get_layer("frames_join").output, model.output,
                              name="locnet_context")
    return frame_net, context_net, int(frame_net.output.shape[-1])
