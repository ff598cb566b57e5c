"""``frames`` training pairs (locnet): settings and the input kernels (NumPy in, NumPy out).

A pair is a stack of ``context`` (K) consecutive camera frames around a target frame
``t`` at camera resolution, and target maps of the emitters of frame ``t``
(:mod:`smlmscale.patches.stacks_targets`). Where the patches go is decided from the
table alone (:mod:`smlmscale.patches.plan`: ``per_frame`` candidates per frame, seeded by
``(seed, frame)``, kept with at least ``min_emitters`` emitters inside), so the result
does not depend on how the movie is chunked.

- **Frames**: ``t - K//2 .. t + K//2``; at the movie's ends a missing frame repeats the
  nearest existing one (frame 0 of a 3-stack at ``t = 0`` is frame 0 again).
- **Normalization**: one affine map for the whole patch set,
  ``x_norm = (ADU - offset_adu) / scale_adu``. When not given, ``offset_adu`` is the
  camera baseline of a smlmscale simulation (from the store's attributes), else the
  :data:`OFFSET_PERCENTILE` th percentile of a sample of frames
  (:func:`sample_frames`); ``scale_adu`` is the :data:`SCALE_PERCENTILE` th percentile of
  the sample minus the offset (:func:`intensity_levels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from smlmscale.patches.deepstorm import MIN_EMITTERS
from smlmscale.settings import Settings, setting

#: The temporal contexts locnet reads (frames per stack).
CONTEXTS = (1, 3)
#: Frames read (evenly spaced over the movie) to find the normalization.
SAMPLE_FRAMES = 32
#: Pixels of the sample used at most (every n-th row and column beyond it).
SAMPLE_PIXELS = 4_000_000
#: Percentile of the sample taken as the offset when the data are not a simulation.
OFFSET_PERCENTILE = 1.0
#: Percentile of the sample that the normalization maps to 1 (with the offset, the scale).
SCALE_PERCENTILE = 99.9


@dataclass(frozen=True)
class FramesSettings(Settings):
    """Parameters of the ``frames`` generator (locnet's patch sets; px = camera pixels).

    Attributes
    ----------
    patch_size_px : int
        Side of a square patch, camera px (a multiple of the model's pooling factor; 40
        fits U-Nets of up to 3 poolings).
    context : {1, 3}
        Frames per input stack (K), centred on the target frame.
    per_frame : int
        Candidate patches drawn per frame.
    min_emitters : int
        Keep a candidate with at least this many emitters of its centre frame inside.
    max_emitters : int
        The most emitters (occupied pixels) of a patch the loss gathers. A patch with more
        is still made and keeps all of them in its maps (the detection term sees them);
        the count term gathers ``max_emitters`` of them. The patch set records the largest
        count of any patch, at most this (``attrs["max_emitters"]``), and how many patches
        went over (``stats["patches_over_max_emitters"]``).
    offset_adu : float, optional
        Subtracted from the camera counts, ADU (default: a simulation's camera baseline,
        else a low percentile of a sample of frames).
    scale_adu : float, optional
        Divides the counts after the offset, ADU (default: a high percentile of the
        sample above the offset).
    background_frames : int
        Frames around ``t`` whose per-pixel lower quartile is the background target when
        the movie is no smlmscale simulation (a simulation gives its own background).
    seed : int
        Seeds the patch positions (with the frame index) and the split.
    """

    settings_crossed_limit = True

    patch_size_px: int = setting(40, min=1, unit="camera px", help="Patch side")
    context: int = setting(3, choices=CONTEXTS,
                           help="Frames per input stack, centred on the target frame")
    per_frame: int = setting(2, min=1, help="Candidate patches per frame")
    min_emitters: int = setting(1, **MIN_EMITTERS)
    max_emitters: int = setting(64, min=1, help="Emitters per patch the loss gathers "
                                                "at most (more are kept in the maps)")
    offset_adu: float | None = setting(None, unit="ADU", default_text="a simulation's baseline, "
                                       "else a low percentile of the data",
                                       help="Offset subtracted from the counts")
    scale_adu: float | None = setting(None, min=0, min_open=True, unit="ADU",
                                      default_text="a high percentile of the data above the "
                                                   "offset",
                                      help="Scale dividing the counts")
    background_frames: int = setting(9, min=1, help="Frames of the background "
                                                    "estimate of data that are no simulation")
    seed: int = setting(0, min=0, help="Seeds positions, shifts, bins and the split")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(H, W, K)``."""
        return (self.patch_size_px, self.patch_size_px, self.context)

    def target_shape(self, is_3d: bool) -> tuple[int, int, int]:
        """``(H, W, 6)`` in 3D, ``(H, W, 5)`` in 2D (channels: :func:`target_channels`)."""
        return (self.patch_size_px, self.patch_size_px, len(target_channels(is_3d)))

    def halo(self, estimate_background: bool) -> int:
        """Frames read on each side of a target frame."""
        return max(self.context // 2, self.background_frames // 2 if estimate_background else 0)

    def to_dict(self) -> dict[str, Any]:
        return self.to_mapping()


def target_channels(is_3d: bool) -> tuple[str, ...]:
    """The target channels in order (the contract of locnet's loss)."""
    return ("occupancy", "photons", "dx_px", "dy_px", *(("z_nm",) if is_3d else ()),
            "background")


def window_frames(frames: np.ndarray, *, size: int, n_frames: int) -> np.ndarray:
    """Frames of windows of ``size`` centred on ``frames``, edge frames repeated.

    Returns
    -------
    ndarray of int64
        ``(len(frames), size)``: ``t - size//2 .. t - size//2 + size - 1`` clipped to
        ``0 .. n_frames - 1``.

    >>> window_frames(np.array([0, 4]), size=3, n_frames=5).tolist()
    [[0, 0, 1], [3, 4, 4]]
    """
    offsets = np.arange(size) - size // 2
    return np.clip(np.asarray(frames, np.int64)[:, None] + offsets, 0, n_frames - 1)


def needed_frames(frames: np.ndarray, *, halo: int, n_frames: int) -> np.ndarray:
    """The sorted distinct frames within ``halo`` of any of ``frames`` (inside the movie)."""
    near = window_frames(np.unique(frames), size=2 * halo + 1, n_frames=n_frames)
    return np.unique(near)


def cut_windows(images: np.ndarray, index: np.ndarray, frames: np.ndarray, rows0: np.ndarray,
                cols0: np.ndarray, *, size_px: int, window: int, n_frames: int) -> np.ndarray:
    """Stacks ``(k, size, size, window)`` of the frames around ``frames`` at the corners.

    Parameters
    ----------
    images : ndarray
        ``(n, y, x)``: the movie's frames ``index`` (sorted, distinct); every frame a
        window needs must be there.
    index : ndarray of int
    frames, rows0, cols0 : ndarray of int
        Centre frame and corner (camera px) of each patch.
    size_px, window, n_frames : int
        Patch side, frames per stack, frames of the movie (edges repeat).
    """
    wanted = window_frames(frames, size=window, n_frames=n_frames)
    where = np.searchsorted(index, wanted)
    if wanted.size and not np.array_equal(np.asarray(index)[np.minimum(where, len(index) - 1)],
                                          wanted):
        raise ValueError("a frame the stacks need is not among the images")
    r = np.asarray(rows0)[:, None, None, None] + np.arange(size_px)[None, None, :, None]
    c = np.asarray(cols0)[:, None, None, None] + np.arange(size_px)[None, None, None, :]
    return np.moveaxis(images[where[:, :, None, None], r, c], 1, -1)


def normalize_adu(values: np.ndarray, offset_adu: float, scale_adu: float) -> np.ndarray:
    """``(values - offset_adu) / scale_adu`` as float32 (computed in float64)."""
    return ((np.asarray(values, np.float64) - offset_adu) / scale_adu).astype(np.float32)


def sample_frames(n_frames: int, n: int = SAMPLE_FRAMES) -> np.ndarray:
    """Up to ``n`` frames evenly spaced over the movie, first and last included.

    >>> sample_frames(10, 4).tolist()
    [0, 3, 6, 9]
    """
    return np.unique(np.round(np.linspace(0, n_frames - 1, min(n, n_frames))).astype(np.int64))


def intensity_levels(sample: np.ndarray, *, offset_adu: float | None = None,
                     scale_adu: float | None = None) -> tuple[float, float]:
    """``(offset_adu, scale_adu)`` of the normalization from a sample of frames.

    The values not given come from the sample ``(n, y, x)``, ADU: the offset is its
    :data:`OFFSET_PERCENTILE` th percentile, the scale its :data:`SCALE_PERCENTILE` th
    percentile minus the offset (1 when that is not positive). Beyond
    :data:`SAMPLE_PIXELS` pixels, every n-th row and column is used.

    >>> intensity_levels(np.arange(101.0).reshape(1, 1, -1), offset_adu=10.0)
    (10.0, 89.9)
    """
    if offset_adu is not None and scale_adu is not None:
        return float(offset_adu), float(scale_adu)
    step = max(1, int(np.ceil(np.sqrt(sample.size / SAMPLE_PIXELS))))
    values = np.asarray(sample[:, ::step, ::step], np.float64).ravel()
    offset = float(np.percentile(values, OFFSET_PERCENTILE)) if offset_adu is None \
        else float(offset_adu)
    if scale_adu is None:
        scale_adu = float(np.percentile(values, SCALE_PERCENTILE)) - offset
        scale_adu = scale_adu if scale_adu > 0 else 1.0
    return offset, float(scale_adu)


__all__ = ["CONTEXTS", "FramesSettings", "OFFSET_PERCENTILE", "SAMPLE_FRAMES", "SAMPLE_PIXELS",
           "SCALE_PERCENTILE", "cut_windows", "intensity_levels", "needed_frames",
           "normalize_adu", "sample_frames", "target_channels", "window_frames"]
