"""Kernel and task: one block of camera frames -> a deepstorm3d localization table.

Frames are normalized as the model's patch set was (``project_01`` per whole frame, or the
global factors ``(ADU - offset) / scale``), cut into windows at camera resolution
(:func:`smlmscale.predict.tiles.predicted_windows`; the model upsamples them itself into
``(u h, u w, D)`` voxel grids) and each window is localized on its own
(:func:`smlmscale.localize.maxima3d.find_maxima_3d`, threshold ``--threshold`` x the
scaling factor, cube of ``--radius`` voxels) inside its core plus ``radius`` voxels, so
that a whole frame's grid, ``16 H W D`` floats, never exists. The halo covers the
receptive field plus ``radius`` voxels, so each core's candidates and centroids are those
of whole-frame prediction; candidates are kept in the core they fall in, and the table
equals the whole frame's wherever tiles are cut.

Positions: voxel ``(i, j, k)`` with its centroid offsets is at ``x_nm = (j + 0.5 + dx)
p / u``, ``y_nm`` likewise (pixel-corner origin, ``p`` the camera pixel) and ``z_nm = lo +
(k + 0.5 + dz) (hi - lo) / D``; ``confidence`` is the peak over the scaling factor (1 for
a clear emitter; the Deep-STORM3D CSV writes it as ``intensity [au]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlmscale.localize.maxima3d import find_maxima_3d
from smlmscale.predict.block import normalize_frames
from smlmscale.predict.tiles import TileGrid, predicted_windows

#: Bytes of window outputs predicted at once (the batch is lowered to fit).
WINDOW_BYTES = 256 << 20
#: The columns of the table, in order.
COLUMNS = ("frame", "x_nm", "y_nm", "z_nm", "confidence")


@dataclass(frozen=True)
class VoxelSettings:
    """How a deepstorm3d block is predicted and localized.

    Attributes
    ----------
    normalize : {"frame", "affine"}
        Each frame projected to [0, 1], or ``(ADU - input_offset) / input_scale``.
    input_scale, input_offset : float
        Of the ``affine`` normalization, ADU.
    threshold : float
        Keep voxels above ``threshold * scaling_factor`` (the seed's ``thresh`` over its
        ``scaling_factor``).
    radius : int
        Half-size of the maxima and centroid cube, voxels.
    scaling_factor : float
        The model's spike of one emitter.
    voxel_nm : float
        Lateral voxel size, nm (camera pixel / upsampling).
    z_range_nm : tuple of float
        ``(lo, hi)`` of the grid's ``z_voxels`` slices.
    z_voxels : int
    batch_size : int
        Windows per model call at most.
    """

    normalize: str = "frame"
    input_scale: float = 1.0
    input_offset: float = 0.0
    threshold: float = 0.1
    radius: int = 4
    scaling_factor: float = 800.0
    voxel_nm: float = 25.0
    z_range_nm: tuple[float, float] = (-500.0, 500.0)
    z_voxels: int = 121
    batch_size: int = 8


def voxel_settings(settings, meta: dict, pixel_nm: float) -> VoxelSettings:
    """The kernel settings of a run from the user's
    :class:`~smlmscale.predict.settings.PredictSettings` and ``smlmscale.json``
    (``pixel_nm``: the voxel's lateral size)."""
    from smlmscale.predict.settings import (DEEPSTORM_THRESHOLD, input_normalization,
                                            radius_of)

    mode, scale, offset = input_normalization(meta)
    loss = meta.get("loss") or {}
    options = meta.get("model_options") or {}
    params = meta.get("generator_params") or {}
    return VoxelSettings(
        normalize=mode, input_scale=scale, input_offset=offset,
        threshold=DEEPSTORM_THRESHOLD if settings.threshold is None else settings.threshold,
        radius=radius_of(settings, meta),
        scaling_factor=float(options.get("scaling_factor") or loss.get("scaling_factor")),
        voxel_nm=float(pixel_nm), z_range_nm=tuple(float(v) for v in params["z_range_nm"]),
        z_voxels=int(params["z_voxels"]), batch_size=settings.batch_size)


def _window_rows(tile: np.ndarray, core_y: slice, core_x: slice, win_y: slice, win_x: slice,
                 frame_shape: tuple[int, int], settings: VoxelSettings) -> dict:
    """The candidates of one window's core, in voxels of the frame (see the module)."""
    r = settings.radius
    y0, y1 = max(core_y.start - r, win_y.start), min(core_y.stop + r, win_y.stop,
                                                     frame_shape[0])
    x0, x1 = max(core_x.start - r, win_x.start), min(core_x.stop + r, win_x.stop,
                                                     frame_shape[1])
    if y1 <= y0 or x1 <= x0:
        return {}
    part = tile[y0 - win_y.start:y1 - win_y.start, x0 - win_x.start:x1 - win_x.start]
    found = find_maxima_3d(part, threshold=settings.threshold * settings.scaling_factor,
                           radius=r)
    row, col = found.peak_row + y0, found.peak_col + x0
    inside = ((row >= core_y.start) & (row < core_y.stop) & (col >= core_x.start)
              & (col < core_x.stop))
    return {"row": found.row[inside] + y0, "col": found.col[inside] + x0,
            "slice": found.slice[inside], "peak": found.peak[inside],
            "key": np.stack([row, col, found.peak_slice])[:, inside]}


def predict_voxel_block(frames: np.ndarray, first_frame: int, predict: Callable,
                        grid: TileGrid, settings: VoxelSettings) -> pd.DataFrame:
    """Localizations of frames ``first_frame ..`` of a movie, nm (see the module docstring).

    Parameters
    ----------
    frames : numpy.ndarray
        ``(N, H, W)`` camera frames, ADU.
    first_frame : int
        Index of ``frames[0]`` in the movie.
    predict : callable
        ``(B, h, w, 1)`` -> ``(B, u h, u w, D)``.
    grid : TileGrid
        With ``internal`` = ``factor`` = the model's upsampling, and a halo of at least
        the receptive radius plus ``radius`` voxels.
    settings : VoxelSettings

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, by frame then voxel (raster order).
    """
    norm = normalize_frames(frames, settings.normalize, settings.input_scale,
                            settings.input_offset)
    frame_shape = tuple(n * grid.factor for n in grid.frame_shape)
    side = grid.tile + 2 * grid.halo
    batch = max(1, min(settings.batch_size,
                       WINDOW_BYTES // (side * side * settings.z_voxels * 4)))
    rows = []
    for i, *spans, tile in predicted_windows(norm, predict, grid, batch_size=batch):
        found = _window_rows(tile, *spans, frame_shape, settings)
        if found and len(found["peak"]):
            rows.append((np.full(len(found["peak"]), i), found))
    if not rows:
        return pd.DataFrame({name: np.zeros(0, np.int64 if name == "frame" else np.float64)
                             for name in COLUMNS})
    frame = np.concatenate([f for f, _ in rows])
    found = {k: np.concatenate([r[k] for _, r in rows], axis=-1) for k in rows[0][1]}
    lo, hi = settings.z_range_nm
    order = np.lexsort((found["key"][2], found["key"][1], found["key"][0], frame))
    return pd.DataFrame({
        "frame": (frame + first_frame).astype(np.int64)[order],
        "x_nm": (found["col"] * settings.voxel_nm)[order],
        "y_nm": (found["row"] * settings.voxel_nm)[order],
        "z_nm": (lo + found["slice"] * (hi - lo) / settings.z_voxels)[order],
        "confidence": (found["peak"] / settings.scaling_factor)[order]})


def run_voxel_block(job, grid: TileGrid, settings: VoxelSettings) -> tuple[int, int, int]:
    """Task: predict one block (a :class:`~smlmscale.predict.tasks.BlockJob`) and write
    its part; returns ``(start, stop, localizations)``."""
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.predict.model_cache import cached_predictor
    from smlmscale.predict.tasks import part_path, write_part

    frames = np.asarray(open_image_store(job.store).array[job.start:job.stop])
    predictor = cached_predictor(job.model, job.precision)
    table = predict_voxel_block(frames, job.start, predictor, grid, settings)
    write_part(table, part_path(job.parts, job.start, job.stop))
    return job.start, job.stop, len(table)


__all__ = ["COLUMNS", "VoxelSettings", "WINDOW_BYTES", "predict_voxel_block",
           "run_voxel_block", "voxel_settings"]
