"""What a Dask worker runs for one block of frames: read, predict, localize, write its part.

A task names the store, the frame range and the model folder; it opens the store itself
(zarr handles are not shipped), takes the model from the worker's cache
(:mod:`smlmscale.predict.model_cache`), and writes its localizations as one Parquet part
(a temporary file renamed when complete) and, when asked, its frames of the density
store. A task killed half-way leaves no part, so the scheduler's retry on another worker,
or ``--resume``, simply does it again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smlmscale.predict.block import BlockSettings, predict_block
from smlmscale.predict.tiles import TileGrid


@dataclass(frozen=True)
class BlockJob:
    """One block of frames to predict.

    Attributes
    ----------
    store : str
        OME-Zarr movie (``t, y, x``).
    start, stop : int
        Frames ``start .. stop - 1``.
    model : str
        Model folder.
    parts : str
        Folder of the Parquet parts.
    density : str or None
        Density store (``t, y', x'`` float32, frame ``first`` of the run at index 0).
    first : int
        First frame of the run (``--frames``), index 0 of the density store.
    precision : str
        ``predict --precision`` (resolved on the worker).
    """

    store: str
    start: int
    stop: int
    model: str
    parts: str
    density: str | None = None
    first: int = 0
    precision: str = "auto"


def part_path(parts: str | os.PathLike, start: int, stop: int) -> Path:
    """The Parquet part of frames ``start .. stop - 1``."""
    return Path(os.fspath(parts)) / f"frames_{start:010d}_{stop:010d}.parquet"


def run_block(job: BlockJob, grid: TileGrid, settings: BlockSettings) -> tuple[int, int, int]:
    """Predict one block and write its part; returns ``(start, stop, localizations)``."""
    import zarr

    from smlmscale.io.ome_zarr import open_image_store
    from smlmscale.predict.model_cache import cached_predictor

    frames = np.asarray(open_image_store(job.store).array[job.start:job.stop])
    predictor = cached_predictor(job.model, job.precision)
    write = None
    if job.density is not None:
        density = zarr.open_array(os.path.join(job.density, "0"), mode="r+")

        def write(frame: int, values: np.ndarray) -> None:
            index = frame - job.first
            density[index:index + len(values)] = values

    table = predict_block(frames, job.start, predictor, grid, settings,
                          channels=predictor.channels_out, density_out=write)
    write_part(table, part_path(job.parts, job.start, job.stop))
    return job.start, job.stop, len(table)


def write_part(table, final: Path) -> None:
    """Write a Parquet part atomically (a temporary file renamed when complete)."""
    tmp = final.with_name(f".partial-{os.getpid()}-{final.name}")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, final)


__all__ = ["BlockJob", "part_path", "run_block", "write_part"]
