"""Functions that run inside Dask tasks: inspect files, write and verify regions.

Each opens its own file handles and Zarr array (tifffile objects cannot be
pickled), and holds at most one write region in memory.
"""

from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np

from smlmscale.ingest.layout import Region
from smlmscale.io.ome_zarr import ARRAY_PATH
from smlmscale.io.movie_files import inspect_movie
from smlmscale.io.tiff import TiffFileInfo, read_frames


def inspect_files(paths: Sequence[str], channel: int | None = None,
                  position: int | None = None) -> list[TiffFileInfo]:
    """Inspect a batch of movie files (one task per batch keeps folders of frames cheap);
    ``channel``/``position`` choose the plane of ND2/CZI files."""
    return [inspect_movie(path, channel=channel, position=position) for path in paths]


def checksum(data: np.ndarray) -> int:
    """CRC-32 of an array's bytes in C order."""
    return zlib.crc32(np.ascontiguousarray(data).data)


def write_region(pieces: Sequence[tuple[TiffFileInfo, int]], region: Region, dtype: str,
                 store_path: str) -> tuple[int, int, int]:
    """Read one region's frames from its source files and write it to the store.

    Parameters
    ----------
    pieces : sequence of (TiffFileInfo, int)
        Source files sliced to the region's frames, and where each starts in the region.
    region : Region
    dtype : str
    store_path : str
        The OME-Zarr group; the array is ``"0"``.

    Returns
    -------
    tuple of int
        ``(region index, CRC-32 of the pixels, bytes)``.
    """
    import zarr

    if len(pieces) == 1:  # the usual case: no copy beyond the read itself
        info, _ = pieces[0]
        data = read_frames(info, 0, info.n_frames, region.yx)
    else:
        data = np.empty((region.t1 - region.t0, region.y1 - region.y0, region.x1 - region.x0),
                        dtype=dtype)
        for info, start in pieces:
            data[start:start + info.n_frames] = read_frames(info, 0, info.n_frames, region.yx)
    # Camera chunks are never all fill value; skipping zarr's per-chunk emptiness
    # check (a full comparison of every chunk) makes the write 2x faster.
    array = zarr.open_array(store_path, path=ARRAY_PATH, mode="r+")
    array = array.with_config({"write_empty_chunks": True})
    array[region.selection] = data
    return region.index, checksum(data), data.nbytes


def region_checksum(region: Region, store_path: str) -> tuple[int, int]:
    """Re-read a written region and return ``(region index, CRC-32)``."""
    import zarr

    array = zarr.open_array(store_path, path=ARRAY_PATH, mode="r")
    return region.index, checksum(array[region.selection])
