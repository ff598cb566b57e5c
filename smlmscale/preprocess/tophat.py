"""White top-hat: each frame minus its grey opening (seed 001: disk of radius 10 px).

The top-hat keeps bright features smaller than the footprint (single-molecule
spots) and removes the slowly varying background under them. It works on each
frame in ``y, x``, never along ``t``.

CPU: ``method="fast"`` (default) computes the opening with the row decomposition
of :mod:`smlmscale.preprocess.morphology`, identical to SciPy's direct
``scipy.ndimage.white_tophat`` with the same footprint and boundary
(``mode="reflect"``) and ~20-50x faster at a radius of 10 px; ``method="scipy"``
calls SciPy directly. GPU: both methods call ``cupyx.scipy.ndimage.white_tophat``
with the same footprint and mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from smlmscale.preprocess import morphology
from smlmscale.preprocess.base import Backend, Step, StepParams
from smlmscale.preprocess.overlap import map_frames_overlap
from smlmscale.settings import setting

METHODS = ("fast", "scipy")


@dataclass(frozen=True)
class TophatParams(StepParams):
    """Parameters of the ``tophat`` step.

    Attributes
    ----------
    radius : int
        Footprint radius in px (>= 1), default 10: features narrower than
        ``2 radius + 1`` px are kept, wider ones removed as background.
    footprint : {"disk", "square"}
        ``"disk"`` (default): pixels with ``dx**2 + dy**2 <= radius**2``, as
        ``skimage.morphology.disk(radius)``; ``"square"``: ``2 radius + 1`` px wide.
    method : {"fast", "scipy"}
        CPU algorithm for the opening: ``"fast"`` (default), the exact row
        decomposition; ``"scipy"``, SciPy's direct footprint filter, frame by
        frame. Both give identical results (for the two exceptions, NaN and
        frames of 2 to ``radius / 4`` px, see :mod:`~smlmscale.preprocess.morphology`);
        ignored on the GPU.

    Examples
    --------
    >>> TophatParams(radius=6).footprint
    'disk'
    """

    settings_prefix = "tophat: "

    radius: int = setting(10, min=1, unit="px", help="Footprint radius")
    footprint: str = setting("disk", choices=morphology.FOOTPRINTS, help="Footprint shape")
    method: str = setting("fast", choices=METHODS, help="CPU algorithm for the opening")


def halo_px(params: TophatParams) -> int:
    """Halo in px that makes chunked results exact: ``2 radius``.

    The opening is a dilation of an erosion; each reaches ``radius`` px, so an
    output pixel depends on input pixels up to ``2 radius`` px away (along y,
    along x and, for the square, diagonally).
    """
    return 2 * params.radius


def tophat_kernel(block, *, params: TophatParams, backend: Backend = Backend()):
    """White top-hat of each frame of a ``(t, y, x)`` block.

    Parameters
    ----------
    block : numpy.ndarray or cupy.ndarray
        ``(t, y, x)`` frames, any integer or float dtype.
    params : TophatParams
    backend : Backend
        ``"cpu"``: NumPy/SciPy; ``"gpu"``: CuPy/cupyx.

    Returns
    -------
    array
        Same shape, dtype and array type: ``frame - grey_opening(frame)`` with
        the footprint of ``params`` and the boundary ``mode="reflect"``.
    """
    footprint = morphology.footprint_array(params.footprint, params.radius)
    return _KERNELS[backend.device, params.method](block, footprint, params, backend)


def _device_tophat(block, footprint, params: TophatParams, backend: Backend):
    """One call over the block; a footprint of size 1 along t, so frames never mix."""
    footprint = backend.xp.asarray(footprint[None])
    return backend.ndimage.white_tophat(block, footprint=footprint, mode="reflect")


def _frame_by_frame(block, footprint, params: TophatParams, backend: Backend):
    """SciPy's top-hat per 2-D frame, exactly as the eager loop."""
    out = backend.xp.empty_like(block)
    for index, frame in enumerate(block):
        out[index] = backend.ndimage.white_tophat(frame, footprint=footprint, mode="reflect")
    return out


def _row_decomposition(block, footprint, params: TophatParams, backend: Backend):
    return morphology.white_tophat(block, radius=params.radius, footprint=params.footprint)


#: The kernel by (device, method): on the GPU both methods are cupyx's top-hat.
_KERNELS = {("cpu", "fast"): _row_decomposition, ("cpu", "scipy"): _frame_by_frame,
            ("gpu", "fast"): _device_tophat, ("gpu", "scipy"): _device_tophat}


def build(movie, params: TophatParams, backend: Backend = Backend()):
    """The lazy white top-hat of a ``(t, y, x)`` movie; never computes.

    :func:`~smlmscale.preprocess.overlap.map_frames_overlap` with a halo of
    ``2 radius`` px (see :func:`halo_px`): blocks at a frame edge keep the true edge,
    where the kernel applies SciPy's reflect boundary itself, so the result equals the
    per-frame eager top-hat whatever the chunking. The output keeps the input's chunks
    and dtype (SciPy's top-hat keeps the dtype; the opening never exceeds the frame).

    Parameters
    ----------
    movie : dask.array.Array
        ``(t, y, x)``, chunks on the device of ``backend``.
    params : TophatParams
    backend : Backend

    Returns
    -------
    dask.array.Array
    """
    return map_frames_overlap(partial(tophat_kernel, params=params, backend=backend), movie,
                              halo_px=halo_px(params), dtype=movie.dtype,
                              meta=backend.xp.empty((0,) * movie.ndim, dtype=movie.dtype))


STEP = Step(name="tophat", params=TophatParams, build=build, positional="radius",
            halo_px=halo_px,
            summary="white top-hat: frame minus its grey opening (footprint disk|square, "
                    "radius px, default disk 10)")
