"""Helpers shared by the whole suite: proving laziness, and ``requires_*`` markers.

Like xarray's ``tests/__init__.py``: :func:`raise_if_dask_computes` fails a block that
makes Dask compute, and each ``requires_*`` marker skips a test when what it needs is not
installed (``importorskip`` style, decided once at import).
"""

from __future__ import annotations

import contextlib
import importlib.util
from typing import Iterator

import dask
import pytest


class CountingScheduler:
    """A dask scheduler that counts computes and raises after ``max_computes`` (as xarray's)."""

    def __init__(self, max_computes: int = 0) -> None:
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk, keys, **kwargs):
        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(f"too many dask computations were scheduled: "
                               f"{self.total_computes} > {self.max_computes}")
        return dask.get(dsk, keys, **kwargs)


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0) -> Iterator[CountingScheduler]:
    """Fail if the block makes dask compute anything (more than ``max_computes`` times)."""
    scheduler = CountingScheduler(max_computes)
    with dask.config.set(scheduler=scheduler):
        yield scheduler


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _has_gpu() -> bool:
    if not _installed("cupy"):
        return False
    from smlmscale.runtime import gpu_count

    return gpu_count() > 0


def _has_tf_gpu() -> bool:
    if not _installed("tensorflow"):
        return False
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


#: Skips a test unless CuPy and a CUDA GPU are there.
requires_gpu = pytest.mark.skipif(not _has_gpu(), reason="needs CuPy and a CUDA GPU")
#: Skips a test unless Keras (TensorFlow) is installed.
requires_keras = pytest.mark.skipif(not _installed("keras"), reason="needs keras")
#: Skips a test unless ome-zarr-py is installed.
requires_ome_zarr = pytest.mark.skipif(not _installed("ome_zarr"), reason="needs ome-zarr")


def requires_tf_gpu():
    """A marker (built on use: importing TensorFlow is slow) skipping without a TF GPU."""
    return pytest.mark.skipif(not _has_tf_gpu(), reason="needs a TensorFlow GPU")


__all__ = ["CountingScheduler", "raise_if_dask_computes", "requires_gpu", "requires_keras",
           "requires_ome_zarr", "requires_tf_gpu"]
