"""Kernel and task: one block of camera frames -> a locnet localization table.

A block predicting frames ``[start, stop)`` reads those frames plus ``K//2`` frames of
temporal halo on each side (:func:`smlmscale.predict.context.context_range`), normalizes
them affinely as the model's patch set was (``x = (ADU - offset_adu) / scale_adu``,
float32), builds the ``(T, H, W, K)`` stacks (:func:`~smlmscale.predict.context.context_stacks`),
predicts them tile by tile at camera resolution (:func:`smlmscale.predict.tiles.predict_frames`,
halo >= the receptive radius + 1 px, edges on the pooling grid), and turns the stitched
output maps into rows (:func:`smlmscale.localize.locnet.locnet_candidates`), optionally
filtered by the predicted uncertainty. Since the stitched maps equal the whole frame's,
the table equals whole-movie prediction wherever blocks and tiles are cut.

With the model's two halves (:class:`SplitNet`, from
:func:`smlmscale.models.locnet_layout.split_locnet`) a block computes the frame features of each
frame it reads once, tiled as the whole model is, and shares them between the K stacks
that read the frame; the context half then predicts the stacks of features. On K = 3
models this does the frame U-Net's work once per frame instead of three times.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlmscale.localize.locnet import empty_table, locnet_candidates
from smlmscale.localize.uncertainty import filter_by_uncertainty
from smlmscale.predict.context import context_range, context_stacks
from smlmscale.predict.tiles import TileGrid, predict_frames

#: Output-map bytes computed at once inside a block.
MAP_BYTES = 64 << 20
#: The candidate threshold of locnet models (expected emitters in a 3 x 3 window).
LOCNET_THRESHOLD = 0.3


@dataclass(frozen=True)
class SplitNet:
    """A locnet model's two halves (:func:`smlmscale.models.locnet_layout.split_locnet`).

    Attributes
    ----------
    frame : callable
        ``(B, h, w, 1)`` normalized frames -> ``(B, h, w, features)``.
    context : callable
        ``(B, h, w, K * features)`` -> the output maps ``(B, h, w, C_o)``.
    features : int
        Feature maps per frame.
    """

    frame: Callable
    context: Callable
    features: int


@dataclass(frozen=True)
class LocnetSettings:
    """How a locnet block is predicted and localized.

    Attributes
    ----------
    context : int
        ``K``, frames per input stack.
    offset_adu, scale_adu : float
        Affine normalization ``(ADU - offset_adu) / scale_adu``.
    is_3d : bool
    threshold : float
        Least 3 x 3 sum of ``p`` of a candidate.
    max_uncertainty_nm : float or None
        Drop rows with a larger predicted uncertainty, nm.
    pixel_nm : float
        Camera pixel size, nm.
    batch_size : int
        Tiles per model call.
    """

    context: int = 3
    offset_adu: float = 0.0
    scale_adu: float = 1.0
    is_3d: bool = False
    threshold: float = LOCNET_THRESHOLD
    max_uncertainty_nm: float | None = None
    pixel_nm: float = 100.0
    batch_size: int = 8


def locnet_settings(settings, meta: dict, pixel_nm: float) -> LocnetSettings:
    """The kernel settings of a locnet run from the user's settings and ``smlmscale.json``."""
    from smlmscale.models.kinds import has_z_head

    norm = meta.get("normalization") or {}
    threshold = LOCNET_THRESHOLD if settings.threshold is None else settings.threshold
    return LocnetSettings(
        context=int(meta["input_shape"][-1]), offset_adu=float(norm.get("offset_adu") or 0.0),
        scale_adu=float(norm.get("scale_adu") or 1.0),
        is_3d=has_z_head("locnet", meta["target_shape"]), threshold=threshold,
        max_uncertainty_nm=settings.max_uncertainty_nm, pixel_nm=pixel_nm,
        batch_size=settings.batch_size)


def predict_locnet_block(frames: np.ndarray, *, start: int, stop: int, n_frames: int,
                         predict: Callable, grid: TileGrid, settings: LocnetSettings,
                         channels: int, split: SplitNet | None = None
                         ) -> tuple[pd.DataFrame, int]:
    """Localizations of frames ``[start, stop)`` and the rows the uncertainty cut removed.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(m, H, W)`` raw frames ``context_range(start, stop)`` of the movie, ADU.
    start, stop, n_frames : int
        The block and the movie's length, frames.
    predict : callable
        ``(B, h, w, K)`` -> ``(B, h, w, C_o)``.
    grid : TileGrid
        Camera-resolution tiling (``factor`` 1).
    settings : LocnetSettings
    channels : int
        ``C_o``.
    split : SplitNet, optional
        The model's halves: compute each frame's features once (same maps as
        ``predict``, which is then not called).

    Returns
    -------
    tuple
        The table (:func:`smlmscale.localize.locnet.table_columns`, nm) and the count
        of rows removed by ``max_uncertainty_nm``.
    """
    lo, _ = context_range(start, stop, n_frames=n_frames, context=settings.context)
    norm = ((np.asarray(frames, np.float32) - np.float32(settings.offset_adu))
            / np.float32(settings.scale_adu))
    k, batch = settings.context, settings.batch_size
    inputs = k if split is None else (k + 1) * split.features
    step = max(1, MAP_BYTES // (int(np.prod(grid.padded)) * 4 * (channels + inputs)))
    features = None if split is None else _Features(split, grid, norm, lo, batch)
    parts = []
    for a in range(start, stop, step):
        b = min(a + step, stop)
        c0, c1 = context_range(a, b, n_frames=n_frames, context=k)
        if features is None:
            stacks = context_stacks(norm[c0 - lo:c1 - lo], first=a, stop=b,
                                    n_frames=n_frames, context=k)
            maps = predict_frames(stacks, predict, grid, batch_size=batch, channels=channels)
        else:
            stacks = context_stacks(features.frames(c0, c1), first=a, stop=b,
                                    n_frames=n_frames, context=k)
            height, width = grid.frame_shape
            maps = predict_frames(stacks, split.context, grid, batch_size=batch,
                                  channels=channels)[:, :height, :width]
        parts.append(locnet_candidates(maps, first_frame=a, pixel_size_nm=settings.pixel_nm,
                                       threshold=settings.threshold, is_3d=settings.is_3d))
    table = pd.concat(parts, ignore_index=True) if parts else empty_table(settings.is_3d)
    kept = filter_by_uncertainty(table, settings.max_uncertainty_nm)
    return kept.reset_index(drop=True), len(table) - len(kept)


class _Features:
    """The frame features of a block's frames, computed once each, in frame order.

    Features are computed on the frame padded with zeros to the grid (as the whole model
    sees it) and kept padded, so the context half's tiles see what the whole model's do.
    """

    def __init__(self, split: SplitNet, grid: TileGrid, norm: np.ndarray, lo: int,
                 batch_size: int):
        self.split, self.grid, self.norm, self.lo, self.batch = split, grid, norm, lo, batch_size
        self.first, self.maps = lo, np.zeros((0, *grid.padded, split.features), np.float32)

    def frames(self, c0: int, c1: int) -> np.ndarray:
        """Features ``(c1 - c0, ph, pw, F)`` of movie frames ``[c0, c1)`` (increasing c0)."""
        have = self.first + len(self.maps)
        kept = self.maps[max(0, c0 - self.first):]
        if c1 > have:
            new = self.norm[max(c0, have) - self.lo:c1 - self.lo]
            (h, w), (ph, pw) = new.shape[1:], self.grid.padded
            padded = np.pad(new, ((0, 0), (0, ph - h), (0, pw - w)))
            kept = np.concatenate([kept, predict_frames(
                padded, self.split.frame, self.grid, batch_size=self.batch,
                channels=self.split.features)])
        self.first, self.maps = c0, kept
        return kept[:c1 - c0]


def run_locnet_block(job, grid: TileGrid, settings: LocnetSettings) -> tuple[int, int, int]:
    """Task: predict one block (a :class:`~smlmscale.predict.tasks.BlockJob`), write its
    part; returns ``(start, stop, localizations)``. The count of rows the uncertainty cut
    removed goes into a sidecar beside the part (same name, suffix ``.removed``)."""
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.predict.model_cache import cached_predictor
    from smlmscale.predict.tasks import part_path, write_part

    array = open_image_store(job.store).array
    n_frames = int(array.shape[0])
    lo, hi = context_range(job.start, job.stop, n_frames=n_frames, context=settings.context)
    predictor = cached_predictor(job.model, job.precision)
    table, removed = predict_locnet_block(
        np.asarray(array[lo:hi]), start=job.start, stop=job.stop, n_frames=n_frames,
        predict=predictor, grid=grid, settings=settings, channels=predictor.channels_out,
        split=predictor.split)
    final = part_path(job.parts, job.start, job.stop)
    removed_file = final.with_suffix(".removed")
    removed_file.write_text(str(removed))
    write_part(table, final)
    return job.start, job.stop, len(table)


def removed_rows(parts: str | os.PathLike) -> int:
    """Rows the uncertainty cut removed, over the parts of a run."""
    from pathlib import Path

    return sum(int(p.read_text() or 0) for p in Path(os.fspath(parts)).glob("*.removed"))


__all__ = ["LOCNET_THRESHOLD", "LocnetSettings", "SplitNet", "locnet_settings", "predict_locnet_block",
           "removed_rows", "run_locnet_block"]
