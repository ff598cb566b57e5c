"""Kernel: one block of camera frames -> density images and a localization table.

Frames are normalized as the model's patch set was (``normalization.mode`` in
``smlmscale.json``: ``frame`` and ``patch`` models see each whole frame projected to
``[0, 1]``; ``scale`` models the raw values divided by the stored scale; ``affine`` ones
``(ADU - offset) / scale``), predicted tile by tile (:mod:`smlmscale.predict.tiles`),
divided by the training target scale, and localized (:mod:`smlmscale.localize.maxima`)
on the channels' sum. A model trained on ``--z-bins`` targets (one channel per z bin)
also gets ``z_nm`` from its bin profile at each localization
(:mod:`smlmscale.localize.zbins`). NumPy in, NumPy and pandas out; the model is any
callable on batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlmscale.kernels.normalize import normalize_global, normalize_patches
from smlmscale.localize.maxima import find_maxima
from smlmscale.localize.zbins import bin_profiles, z_from_profiles
from smlmscale.predict.tiles import TileGrid, predict_frames

# Density bytes computed at once inside a block (the rest of the block waits its turn).
DENSITY_BYTES = 64 << 20


@dataclass(frozen=True)
class BlockSettings:
    """How a block is predicted and localized.

    Attributes
    ----------
    normalize : {"frame", "scale", "affine", "none"}
        Per-frame projection to [0, 1], division by ``input_scale``, ``(x -
        input_offset) / input_scale``, or none.
    input_scale : float
        Divisor of the ``scale`` and ``affine`` normalizations.
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
    input_offset : float
        Subtracted by the ``affine`` normalization.
    z_centres_nm : tuple of float or None
        The centres of the z bins of a z-binned model's channels (``z_nm`` is written);
        None for a 2D model.
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
    input_offset: float = 0.0
    z_centres_nm: tuple[float, ...] | None = None


def normalize_frames(frames: np.ndarray, mode: str, scale: float = 1.0,
                     offset: float = 0.0) -> np.ndarray:
    """``(N, H, W)`` frames as float32 network inputs (see :class:`BlockSettings`)."""
    if mode == "frame":
        # the same projection the deepstorm generator applies to the frames it cuts
        return normalize_patches(frames)
    if mode == "affine":
        # the global factors the deepstorm3d generator applies (the seed's global_factors)
        return normalize_global(frames, subtract=offset, divide=scale)
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
        ``frame`` (int64), ``x_nm``, ``y_nm``, (``z_nm`` with ``z_centres_nm``),
        ``confidence`` (float64), by frame.
    """
    n = len(frames)
    per_frame = int(np.prod(grid.padded)) * 4 * max(channels, 1)
    step = max(1, min(n, DENSITY_BYTES // max(per_frame, 1)))
    parts = []
    for start in range(0, n, step):
        block = normalize_frames(frames[start:start + step], settings.normalize,
                                 settings.input_scale, settings.input_offset)
        maps = predict_frames(block, predict, grid, batch_size=settings.batch_size,
                              channels=channels)
        density = maps.sum(axis=-1) / np.float32(settings.target_scale)
        if density_out is not None:
            density_out(first_frame + start, density)
        found = find_maxima(density, radius=settings.radius, confidence=settings.confidence,
                            threshold=_density_threshold(settings))
        value = found.confidence / (settings.unit_peak if settings.confidence == "peak" else 1)
        columns = {"frame": found.frame + first_frame + start,
                   "x_nm": found.col * settings.pixel_nm, "y_nm": found.row * settings.pixel_nm}
        if settings.z_centres_nm is not None:
            profiles = bin_profiles(maps, found.frame, found.peak_row, found.peak_col)
            columns["z_nm"] = z_from_profiles(profiles, np.asarray(settings.z_centres_nm))
        parts.append(pd.DataFrame({**columns, "confidence": value}))
    names = ["frame", "x_nm", "y_nm", *(["z_nm"] if settings.z_centres_nm else []),
             "confidence"]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=names)
    return table.astype({name: np.int64 if name == "frame" else np.float64 for name in names})


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
