"""Random symmetries of training pairs, applied identically to input and target.

Modes, chosen by what the patch geometry allows:

- ``"dihedral"``: any of the 8 flips and quarter turns (square patches: deepstorm,
  summed, counts);
- ``"flips"``: up-down and left-right flips (non-square patches);
- ``"vflip"``: up-down flips only (fusion patches: the spectral box lies to the right of
  the localization box and the dispersion runs along x, so left-right flips and turns
  would make patches no spectrometer produces);
- ``"none"``: targets whose z is read from the PSF's shape (``deepstorm3d`` patch sets,
  ``deepstorm`` ones on ``--z-bins``): a transpose swaps an astigmatic PSF's x and y
  widths, which is the PSF of another z (``-z`` about the middle), and a flip mirrors a
  tetrapod's rotating lobes, so any symmetry would give inputs the wrong z.

Each sample of a batch draws its own symmetry; the draws are stateless, seeded by an
element of :func:`tf.data.Dataset.random`, so a seeded run repeats exactly.

Targets that hold sub-pixel offsets (the ``frames`` patch sets of ``locnet``: channels
``dx_px`` and ``dy_px``, from the pixel centre) transform as vectors: an up-down flip
negates ``dy``, a left-right flip ``dx``, and a transpose swaps them, so every emitter
keeps its position in the transformed patch.
"""

from __future__ import annotations

from typing import Any

AUGMENTATIONS = ("none", "vflip", "flips", "dihedral")


def allowed_augmentation(generator: str | None, input_shape: tuple[int, ...],
                         target_shape: tuple[int, ...], attrs=None) -> str:
    """The widest augmentation a patch set allows (see the module docstring); ``attrs``,
    the patch set's attributes, tell z-binned deepstorm targets."""
    z_bins = int(((attrs or {}).get("params") or {}).get("z_bins") or 0)
    if generator == "deepstorm3d" or (generator == "deepstorm" and z_bins):
        return "none"
    if generator == "fusion":
        return "vflip"
    square = input_shape[0] == input_shape[1] and target_shape[0] == target_shape[1]
    return "dihedral" if square else "flips"


def offset_channels(attrs) -> tuple[int, int] | None:
    """The target channels ``(dx_px, dy_px)`` of a patch set, from its ``channels``
    attribute; None when its targets hold no offsets."""
    names = list((attrs or {}).get("channels") or [])
    if "dx_px" in names and "dy_px" in names:
        return names.index("dx_px"), names.index("dy_px")
    return None


def _negate(t: Any, channel: int) -> Any:
    import tensorflow as tf

    sign = tf.one_hot(channel, tf.shape(t)[-1], on_value=-1.0, off_value=1.0, dtype=t.dtype)
    return t * sign


def _swap(t: Any, a: int, b: int) -> Any:
    import tensorflow as tf

    order = list(range(t.shape[-1]))
    order[a], order[b] = b, a
    return tf.gather(t, order, axis=-1)


def _where(mask: Any, changed: Any, same: Any) -> Any:
    import tensorflow as tf

    return tf.where(tf.reshape(mask, (-1, 1, 1, 1)), changed, same)


def apply_symmetry(x: Any, y: Any, bits: Any, mode: str,
                   offsets: tuple[int, int] | None = None) -> tuple[Any, Any]:
    """Flip and transpose each sample of ``(B, H, W, C)`` batches where its bits say.

    Parameters
    ----------
    x, y : tf.Tensor
        Inputs and targets, ``(B, H, W, C)`` and ``(B, H', W', C')``.
    bits : tf.Tensor
        ``(B, 3)`` bool: flip up-down, flip left-right, transpose (swap H and W).
    mode : str
        One of :data:`AUGMENTATIONS`; bits a mode does not allow are ignored.
    offsets : (int, int), optional
        The target channels of ``dx`` and ``dy`` (:func:`offset_channels`), transformed as
        a vector.

    Returns
    -------
    tuple of tf.Tensor
        The transformed ``x`` and ``y``.
    """
    import tensorflow as tf

    if mode == "none":
        return x, y
    out = []
    for t, vector in ((x, None), (y, offsets)):
        dx, dy = vector if vector is not None else (None, None)
        flipped = tf.reverse(t, axis=[1])
        t = _where(bits[:, 0], flipped if dy is None else _negate(flipped, dy), t)
        if mode in ("flips", "dihedral"):
            flipped = tf.reverse(t, axis=[2])
            t = _where(bits[:, 1], flipped if dx is None else _negate(flipped, dx), t)
        if mode == "dihedral":
            turned = tf.transpose(t, (0, 2, 1, 3))
            t = _where(bits[:, 2], turned if dx is None else _swap(turned, dx, dy), t)
        out.append(t)
    return out[0], out[1]


def augment_pairs(ds: Any, mode: str, *, seed: int = 0,
                  offsets: tuple[int, int] | None = None) -> Any:
    """Randomly augment a batched ``tf.data.Dataset`` of ``(inputs, targets)``.

    Parameters
    ----------
    ds : tf.data.Dataset
        Batches ``(B, H, W, C)``.
    mode : str
        One of :data:`AUGMENTATIONS`.
    seed : int, optional
        Seed of the draws; each pass over the dataset draws anew.
    offsets : (int, int), optional
        The targets' offset channels (see :func:`apply_symmetry`).
    """
    import tensorflow as tf

    if mode not in AUGMENTATIONS:
        raise ValueError(f"augmentation must be one of {AUGMENTATIONS}, got {mode!r}")
    if mode == "none":
        return ds
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def draw(pair: Any, key: Any) -> Any:
        x, y = pair
        shape = tf.stack([tf.shape(x)[0], 3])
        bits = tf.random.stateless_uniform(shape, seed=tf.stack([key, key // 3 + 1])) < 0.5
        return apply_symmetry(x, y, bits, mode, offsets)

    return tf.data.Dataset.zip((ds, keys)).map(draw, num_parallel_calls=2, deterministic=True)


__all__ = ["AUGMENTATIONS", "allowed_augmentation", "apply_symmetry", "augment_pairs",
           "offset_channels"]
