"""Kernel: one block of camera frames -> density images and a localization table.

Frames are normalized as the model's patch set was (``normalization.mode`` in
``smlmscale.json``: ``frame`` and ``patch`` models see each whole frame projected to
``[0, 1]``; ``scale`` models the raw values divided by the stored scale), predicted tile
by tile (:mod:`smlmscale.predict.tiles`), divided by the training target scale, and
localized (:mod:`smlmscale.localize.maxima`). NumPy in, NumPy and pandas out; the model
is any callable on batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlmscale.kernels.normalize import normalize_patches
from smlmscale.localize.maxima import find_maxima
from smlmscale.predict.tiles import TileGrid, predict_frames

# Density bytes computed at once inside a block (the rest of the block waits its turn).
DENSITY_BYTES = 64 << 20


@dataclass(frozen=True)
class BlockSettings:
    """How a block is predicted and localized.

    Attributes
    ----------
    normalize : {"frame", "scale", "none"}
        Per-frame projection to [0, 1], division by ``input_scale``, or none.
    input_scale : float
        Divisor of the ``scale`` normalization.
    target_scale : float
        The training target scale: the network output is divided by it.
    unit_peak : float
        Peak density of one emitter in the targets: confidences ``peak`` are divided by
        it (about 1 for a clear single emitter).
    threshold : float
        Keep localizations with at least this confidence.
    confidence : {"peak", "sum"}
        Peak (over ``unit_peak``) or 3 x 3 sum of the density.
    radius : int
        Suppression half-size, density pixels.
    pixel_nm : float
        Density pixel size, nm (camera pixel / upsampling).
    batch_size : int
        Tiles per model call.
    """

    normalize: str = "frame"
    input_scale: float = 1.0
    target_scale: float = 1.0
    unit_peak: float = 1.0
    threshold: float = 0.1
    confidence: str = "peak"
    radius: int = 1
    pixel_nm: float = 100.0
    batch_size: int = 8


def normalize_frames(frames: np.ndarray, mode: str, scale: float = 1.0) -> np.ndarray:
    """``(N, H, W)`` frames as float32 network inputs (see :class:`BlockSettings`)."""
    if mode == "frame":
        # the same projection the deepstorm generator applies to the frames it cuts
        return normalize_patches(frames)
    frames = np.asarray(frames, dtype=np.float32)
    return frames / np.float32(scale) if mode == "scale" else frames


def predict_block(frames: np.ndarray, first_frame: int, predict: Callable, grid: TileGrid,
                  settings: BlockSettings, *, channels: int = 1,
                  density_out: Callable[[int, np.ndarray], None] | None = None
                  ) -> pd.DataFrame:
    """Localizations of frames ``first_frame ..`` of a movie, in nm (pixel-corner origin).

    Parameters
    ----------
    frames : numpy.ndarray
        ``(N, H, W)`` camera frames.
    first_frame : int
        Index of ``frames[0]`` in the movie.
    predict : callable
        ``(B, h, w, C)`` -> ``(B, h, w, C')``.
    grid : TileGrid
    settings : BlockSettings
    channels : int, optional
        The model's output channels (summed for localization).
    density_out : callable, optional
        Called as ``density_out(frame, density)`` with each part of the ``(n, H', W')``
        float32 density (output / target scale, channels summed) before localization.

    Returns
    -------
    pandas.DataFrame
        ``frame`` (int64), ``x_nm``, ``y_nm``, ``confidence`` (float64), by frame.
    """
    n = len(frames)
    per_frame = int(np.prod(grid.padded)) * 4 * max(channels, 1)
    step = max(1, min(n, DENSITY_BYTES // max(per_frame, 1)))
    parts = []
    for start in range(0, n, step):
        block = normalize_frames(frames[start:start + step], settings.normalize,
                                 settings.input_scale)
        density = predict_frames(block, predict, grid, batch_size=settings.batch_size,
                                 channels=channels).sum(axis=-1)
        density /= np.float32(settings.target_scale)
        if density_out is not None:
            density_out(first_frame + start, density)
        found = find_maxima(density, radius=settings.radius, confidence=settings.confidence,
                            threshold=_density_threshold(settings))
        value = found.confidence / (settings.unit_peak if settings.confidence == "peak" else 1)
        parts.append(pd.DataFrame({
            "frame": found.frame + first_frame + start,
            "x_nm": found.col * settings.pixel_nm,
            "y_nm": found.row * settings.pixel_nm,
            "confidence": value}))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return table.astype({"frame": np.int64, "x_nm": np.float64, "y_nm": np.float64,
                         "confidence": np.float64})


def _density_threshold(settings: BlockSettings) -> float:
    """The threshold in density units (peak confidences are relative to ``unit_peak``)."""
    if settings.confidence == "peak":
        return settings.threshold * settings.unit_peak
    return settings.threshold


def unit_peak(target_sigma_px: float) -> float:
    """Peak of one unit-weight emitter's target: the centre of SciPy's 2-D Gaussian."""
    from smlmscale.kernels.gaussian import gaussian_kernel1d

    if not target_sigma_px > 0:
        return 1.0
    kernel = gaussian_kernel1d(target_sigma_px)
    return float(kernel[len(kernel) // 2] ** 2)


__all__ = ["BlockSettings", "normalize_frames", "predict_block", "unit_peak"]
