"""What a Dask worker runs for a group of ROI tiles of a section stack (``counts`` models).

A task names the stack, the model folder and its ROIs (a few dozen rows of the ROI list);
it reads, section by section, the crop that holds its tiles, builds the network inputs
exactly as the ``counts`` generator built them for training (channel 0 ``tile /
input_scale``, channel 1 the intensity-based count estimate,
:func:`smlmscale.patches.counts.tile_inputs`), predicts them in batches with the
worker's cached model, turns the predicted counts into 3D points
(:func:`smlmscale.localize.counts.counts_to_points`) and writes one Parquet part
atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TileSettings:
    """Kernel settings of a section-stack run, from the model's metadata and the user.

    Attributes
    ----------
    input_scale : float
        Channel 0 is ``tile / input_scale``.
    coefficients : tuple of float or None
        The intensity-to-density polynomial (highest power first); None: one channel.
    nn_size : int
        Neighbourhood of the estimate, px.
    target_scale : float
        The network predicts ``target_scale`` x counts.
    pixel_size_nm, section_thickness_nm : float
    min_count : float
        Pixels predicting fewer localizations are dropped.
    batch_size : int
        Tiles per model call.
    """

    input_scale: float
    coefficients: tuple | None
    nn_size: int
    target_scale: float
    pixel_size_nm: float
    section_thickness_nm: float
    min_count: float
    batch_size: int


@dataclass(frozen=True)
class TileJob:
    """One group of ROI tiles to predict.

    Attributes
    ----------
    store, model, parts : str
        Section stack, model folder, folder of the Parquet parts.
    index : int
        The group's number (names its part).
    rois : pandas.DataFrame
        Its rows of the ROI list (``roi, section, x, y, size``), ordered by section.
    """

    store: str
    model: str
    parts: str
    index: int
    rois: pd.DataFrame


def tiles_part(parts: str | os.PathLike, index: int) -> Path:
    """The Parquet part of ROI group ``index``."""
    return Path(os.fspath(parts)) / f"rois_{index:08d}.parquet"


def read_tiles(array, rois: pd.DataFrame) -> np.ndarray:
    """The tiles ``(k, size, size)`` float64 of ``rois`` from a ``(section, y, x)`` array,
    reading one crop per section (the box around that section's tiles)."""
    from smlmscale.patches.counts import cut_tiles

    size = int(rois["size"].iloc[0]) if len(rois) else 0
    out = np.zeros((len(rois), size, size))
    for section, rows in rois.groupby("section", sort=False).indices.items():
        xs, ys = rois["x"].to_numpy()[rows], rois["y"].to_numpy()[rows]
        y0, x0 = int(ys.min()), int(xs.min())
        crop = np.asarray(array[int(section), y0:int(ys.max()) + size, x0:int(xs.max()) + size])
        out[rows] = cut_tiles(crop, origin=(y0, x0), xs=xs, ys=ys, size=size)
    return out


def predict_tiles(tiles: np.ndarray, predict, settings: TileSettings) -> np.ndarray:
    """Predicted counts ``(k, size, size)`` (localizations per pixel) of raw tiles."""
    from smlmscale.patches.counts import tile_inputs

    coefficients = None if settings.coefficients is None else np.asarray(settings.coefficients)
    out = np.zeros(tiles.shape, np.float32)
    for start in range(0, len(tiles), settings.batch_size):
        batch = tile_inputs(tiles[start:start + settings.batch_size],
                            input_scale=settings.input_scale, coefficients=coefficients,
                            nn_size=settings.nn_size)
        out[start:start + len(batch)] = np.asarray(predict(batch))[..., 0]
    return out / np.float32(settings.target_scale)


def run_tiles(job: TileJob, settings: TileSettings) -> tuple[int, int]:
    """Predict one ROI group and write its part; returns ``(index, points)``."""
    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.localize.counts import counts_to_points
    from smlmscale.predict.model_cache import cached_predictor

    rois = job.rois
    tiles = read_tiles(open_image_store(job.store).array, rois)
    counts = predict_tiles(tiles, cached_predictor(job.model), settings)
    table = counts_to_points(counts, xs=rois["x"], ys=rois["y"], sections=rois["section"],
                             rois=rois["roi"], pixel_size_nm=settings.pixel_size_nm,
                             section_thickness_nm=settings.section_thickness_nm,
                             min_count=settings.min_count)
    final = tiles_part(job.parts, job.index)
    tmp = final.with_name(f".partial-{os.getpid()}-{final.name}")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, final)
    return job.index, len(table)


__all__ = ["TileJob", "TileSettings", "predict_tiles", "read_tiles", "run_tiles", "tiles_part"]
