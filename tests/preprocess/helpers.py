"""Helpers for the preprocessing tests: small movies and OME-Zarr stores."""

from __future__ import annotations

import numpy as np

from smlmscale.io.ome_zarr import create_image_store

#: Frames x rows x columns of the test movies: primes, so chunks cut through everything.
SHAPE = (23, 37, 41)


def random_movie(dtype=np.uint16, seed: int = 0, shape=SHAPE) -> np.ndarray:
    """Random camera-like counts (uint16) or signed floats (float32)."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "u":
        return rng.integers(80, 4000, size=shape).astype(dtype)
    return (rng.standard_normal(shape) * 50 + 20).astype(dtype)


def make_store(path, data: np.ndarray, *, chunks=(5, 16, 16), axes: str = "tyx",
               pixel_size_nm: float | None = 107.0, zarr_format: int = 3,
               attrs: dict | None = None):
    """An OME-Zarr store holding ``data``; returns its path."""
    array = create_image_store(path, shape=data.shape, dtype=data.dtype, chunks=chunks,
                               axes=axes, pixel_size_nm=pixel_size_nm, zarr_format=zarr_format,
                               attrs=attrs or {"kind": "movie", "command": "smlmscale ingest x",
                                               "version": "0.0.1"})
    array[:] = data
    return path


