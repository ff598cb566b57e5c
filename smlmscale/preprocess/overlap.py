"""The Dask layer of the spatial filters: one ``map_overlap`` over y and x, per frame.

Like dask-image's ``ndfilters``: a kernel that filters every frame of a block on its
own, and a halo derived from the filter's parameters (``blur``: the Gaussian's
radius; ``tophat``: twice the footprint's radius). Blocks overlap by the halo in y
and x only, never along t, and nothing is padded at the image edges
(``boundary="none"``): a block at an edge ends where the image ends, and the
kernel's own boundary mode treats it as the eager filter treats the whole frame, so
chunk borders are invisible. An axis held in one chunk gets no halo (whole frames
per chunk: a plain ``map_blocks``); an axis split into chunks but no longer than
the halo is merged into one chunk; the input's chunks are otherwise kept.
"""

from __future__ import annotations

from typing import Any, Callable


def map_frames_overlap(kernel: Callable, movie, *, halo_px: int, dtype: Any, meta: Any,
                       **kwargs: Any):
    """``kernel`` over every block of a ``(t, y, x)`` dask array, blocks overlapping in y, x.

    Parameters
    ----------
    kernel : callable
        ``kernel(block, **kwargs) -> block`` of the same shape: frames filtered one by
        one, with the filter's own boundary mode at the block's edges.
    movie : dask.array.Array
        ``(t, y, x)``.
    halo_px : int
        Pixels of the neighbouring blocks an output pixel depends on (y and x).
    dtype, meta
        Of the result's chunks.
    **kwargs
        Passed to ``kernel``.

    Returns
    -------
    dask.array.Array
        Lazy, with the chunks of ``movie``.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> from scipy import ndimage
    >>> x = np.random.default_rng(0).random((2, 20, 20))
    >>> lazy = map_frames_overlap(ndimage.uniform_filter, da.from_array(x, chunks=(1, 7, 7)),
    ...                           halo_px=1, dtype=x.dtype, meta=np.empty((0, 0, 0)),
    ...                           size=(1, 3, 3))
    >>> bool(np.allclose(lazy.compute(), ndimage.uniform_filter(x, size=(1, 3, 3))))
    True
    """
    original = movie.chunks
    for axis in (1, 2):
        if movie.numblocks[axis] > 1 and halo_px >= movie.shape[axis]:
            movie = movie.rechunk({axis: -1})
    depth = {0: 0, **{axis: halo_px if movie.numblocks[axis] > 1 else 0 for axis in (1, 2)}}
    if depth[1] == depth[2] == 0:
        result = movie.map_blocks(kernel, dtype=dtype, meta=meta, **kwargs)
    else:
        result = movie.map_overlap(kernel, depth=depth, boundary="none", trim=True, dtype=dtype,
                                   meta=meta, **kwargs)
    if result.chunks != original:  # merged above, or by dask (chunks smaller than the halo)
        result = result.rechunk(original)
    return result


__all__ = ["map_frames_overlap"]
