"""Fast exact grey morphology on the CPU: openings and white top-hats per frame.

SciPy's :func:`scipy.ndimage.grey_opening` with a disk footprint visits every
footprint pixel for every image pixel (317 comparisons per pixel and pass at a
radius of 10 px). Here the disk is split into its rows: the disk
``dx**2 + dy**2 <= r**2`` is the union, over ``dy = -r..r``, of the horizontal
segments ``|dx| <= w(dy) = floor(sqrt(r**2 - dy**2))`` shifted by ``dy``. A grey
erosion by a union of footprints is the pointwise minimum of the erosions by
the parts, and an erosion by a shifted segment is a 1-D running minimum along
``x`` read ``dy`` rows away. The running minima of the needed half-widths are
built from one another: a segment of half-width ``a`` is the union of two
segments of half-width ``b`` shifted by ``+-(a - b)`` whenever ``a <= 2 b``, so
each new width costs one elementwise minimum of two shifted views. Dilation is
the same with maxima. A square footprint is separable: running extrema along
``x`` then along ``y``.

How it compares with SciPy: the same discrete footprint (the boolean array of
:func:`footprint_array`, which SciPy is given in the reference) and the same
boundary, SciPy's default ``mode="reflect"`` (``d c b a | a b c d``), made by
padding each frame with ``numpy.pad(..., mode="symmetric")`` by ``2 r`` and
cropping. Only elementwise ``minimum``/``maximum`` of input values are taken (no
arithmetic but the final subtraction, as SciPy's), so the result equals
``scipy.ndimage.white_tophat(frame, footprint=footprint)`` exactly
(``numpy.array_equal``; for floats the sign of a zero may differ) for every
integer and float dtype, with two exceptions: NaN (``numpy.minimum`` propagates
it, SciPy's comparisons do not), and frames with an axis of ``L`` px where
``2 <= L <= r / 4``. There SciPy
(1.17) reads outside the array: its reflect folding maps an offset of
``-2 k L`` (``k >= 2``) to ``-1``, so its result is undefined; here the
reflection simply repeats (``numpy.pad`` ``"symmetric"``). Frames in practice
(and every block of a chunked movie but a whole tiny frame) are far larger.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from smlmscale.errors import InputError

FOOTPRINTS = ("disk", "square")

#: Frames are processed in groups of about this many bytes (padded), to stay in cache.
GROUP_BYTES = 2**20


def footprint_array(kind: str, radius: int) -> np.ndarray:
    """The boolean footprint of shape ``(2 radius + 1, 2 radius + 1)``.

    Parameters
    ----------
    kind : {"disk", "square"}
        ``"disk"``: ``dx**2 + dy**2 <= radius**2`` (equal to
        ``skimage.morphology.disk(radius)``); ``"square"``: every pixel.
    radius : int
        Half-size in px, >= 1.

    Examples
    --------
    >>> footprint_array("disk", 1).astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    """
    if kind not in FOOTPRINTS:
        raise InputError(f"unknown footprint {kind!r}", hint=f"use one of {', '.join(FOOTPRINTS)}")
    if kind == "square":
        return np.ones((2 * radius + 1,) * 2, dtype=bool)
    dy, dx = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return dx * dx + dy * dy <= radius * radius


def row_half_widths(footprint: np.ndarray) -> list[int]:
    """Half-width in px of each row of a footprint made of centred horizontal segments."""
    widths = []
    for row in np.asarray(footprint, dtype=bool):
        w = int(np.count_nonzero(row)) // 2
        centre = row.size // 2
        if not row[centre - w:centre + w + 1].all() or np.count_nonzero(row) != 2 * w + 1:
            raise ValueError("footprint rows must be centred segments")
        widths.append(w)
    return widths


def _width_steps(widths) -> list[tuple[int, int]]:
    """``(a, b)`` steps that build every half-width in ``widths`` from 0: ``a <= 2 b``.

    ``(1, 0)`` is the three-point minimum; doubling steps are inserted where a
    width is more than twice the largest one built so far.
    """
    built = [0]
    steps = []
    for a in sorted(set(widths) - {0}):
        b = built[-1]
        while a > 2 * b:
            step = 1 if b == 0 else 2 * b
            steps.append((step, b))
            built.append(step)
            b = step
        if a != b:
            steps.append((a, b))
            built.append(a)
    return steps


class _Buffers:
    """Work arrays reused across frame groups, by ``(tag, shape)``.

    Distributed's workers set ``MALLOC_TRIM_THRESHOLD_``, which makes glibc return every
    large block to the system at once: fresh temporaries then cost page faults
    (3-4x slower here). smlmscale's local workers raise it again
    (:mod:`smlmscale.runtime.malloc`), a user's cluster may not, so the kernel allocates
    its arrays once per call.
    """

    def __init__(self, dtype) -> None:
        self.dtype = dtype
        self.arrays: dict = {}

    def get(self, tag, shape: tuple[int, ...]) -> np.ndarray:
        key = (tag, shape)
        if key not in self.arrays:
            self.arrays[key] = np.empty(shape, self.dtype)
        return self.arrays[key]


def _running_extrema(op: Callable, image: np.ndarray, widths, axis: int,
                     buffers: _Buffers, tag: str) -> dict:
    """``{w: running op over 2 w + 1 px along axis}``, valid part only.

    Entry ``w`` has ``image.shape[axis] - 2 w`` elements along ``axis``; its
    element ``i`` is the extremum of ``image`` over ``[i, i + 2 w]``.
    """
    length = image.shape[axis]

    def cut(start: int, size: int) -> tuple:
        index = [slice(None)] * image.ndim
        index[axis] = slice(start, start + size)
        return tuple(index)

    found = {0: image}
    for a, b in _width_steps(widths):
        size = length - 2 * a
        shape = list(image.shape)
        shape[axis] = size
        part = buffers.get((tag, a), tuple(shape))
        if b == 0:
            op(image[cut(0, size)], image[cut(1, size)], out=part)
            op(part, image[cut(2, size)], out=part)
        else:
            shift = 2 * (a - b)
            op(found[b][cut(0, size)], found[b][cut(shift, size)], out=part)
        found[a] = part
    return found


def _filter_rows(op: Callable, padded: np.ndarray, widths: list[int], buffers: _Buffers,
                 tag: str, out: np.ndarray | None = None) -> np.ndarray:
    """Erosion (``op=np.minimum``) or dilation (``np.maximum``) by a row footprint.

    ``padded`` is ``(n, H, W)``; the result (``out`` if given) is
    ``(n, H - 2 r, W - 2 r)`` with ``r = len(widths) // 2``: only the pixels
    whose footprint lies inside.
    """
    radius = len(widths) // 2
    n, height, width = padded.shape
    out_h, out_w = height - 2 * radius, width - 2 * radius
    runs = _running_extrema(op, padded, widths, -1, buffers, tag)
    result = buffers.get((tag, "rows"), (n, out_h, out_w)) if out is None else out
    for row, w in enumerate(widths):
        part = runs[w][:, row:row + out_h, radius - w:radius - w + out_w]
        if row == 0:
            np.copyto(result, part)
        else:
            op(result, part, out=result)
    return result


def _filter_square(op: Callable, padded: np.ndarray, widths: list[int], buffers: _Buffers,
                   tag: str, out: np.ndarray | None = None) -> np.ndarray:
    """Erosion/dilation by a ``(2 r + 1)`` square (``widths``: ``r`` per row): separable
    running extrema."""
    radius = len(widths) // 2
    along_x = _running_extrema(op, padded, [radius], -1, buffers, tag + "x")[radius]
    result = _running_extrema(op, along_x, [radius], -2, buffers, tag + "y")[radius]
    if out is None:
        return result
    np.copyto(out, result)
    return out


#: Erosion/dilation by each footprint kind, from the footprint's row half-widths.
_FILTERS = {"disk": _filter_rows, "square": _filter_square}


def _pad_symmetric(frames: np.ndarray, pad: int, buffers: _Buffers) -> np.ndarray:
    """``numpy.pad(frames, ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")`` in a buffer."""
    n, height, width = frames.shape
    if pad > min(height, width):  # the reflection repeats: tiny frames, rare
        return np.pad(frames, ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")
    padded = buffers.get("padded", (n, height + 2 * pad, width + 2 * pad))
    padded[:, pad:pad + height, pad:pad + width] = frames
    padded[:, pad:pad + height, :pad] = frames[:, :, :pad][:, :, ::-1]
    padded[:, pad:pad + height, pad + width:] = frames[:, :, width - pad:][:, :, ::-1]
    padded[:, :pad] = padded[:, pad:2 * pad][:, ::-1]
    padded[:, pad + height:] = padded[:, height:height + pad][:, ::-1]
    return padded


def grey_opening(frames: np.ndarray, *, radius: int, footprint: str = "disk") -> np.ndarray:
    """Grey opening of each frame, identical to SciPy's.

    Parameters
    ----------
    frames : numpy.ndarray
        ``(..., y, x)``; any integer or float dtype. Frames are independent.
    radius : int
        Footprint radius in px, >= 1.
    footprint : {"disk", "square"}
        See :func:`footprint_array`.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype: equal to
        ``scipy.ndimage.grey_opening(frame, footprint=footprint_array(footprint,
        radius))`` (``mode="reflect"``) for every frame, with the exceptions in
        the module docstring (NaN; an axis of 2 to ``radius / 4`` px).
    """
    frames = np.asarray(frames)
    shape = frames.shape
    if frames.ndim < 2:
        raise ValueError("frames need at least 2 dimensions (y, x)")
    flat = frames.reshape(-1, *shape[-2:])
    if flat.size == 0:
        return flat.copy().reshape(shape)
    widths = row_half_widths(footprint_array(footprint, radius))
    by_rows = _FILTERS[footprint]
    pad = 2 * radius
    out = np.empty_like(flat)
    buffers = _Buffers(flat.dtype)
    padded_bytes = (shape[-2] + 2 * pad) * (shape[-1] + 2 * pad) * flat.itemsize
    group = max(1, GROUP_BYTES // padded_bytes)
    for start in range(0, flat.shape[0], group):
        block = _pad_symmetric(flat[start:start + group], pad, buffers)
        eroded = by_rows(np.minimum, block, widths, buffers, "erode")
        by_rows(np.maximum, eroded, widths, buffers, "dilate", out=out[start:start + group])
    return out.reshape(shape)


def white_tophat(frames: np.ndarray, *, radius: int, footprint: str = "disk") -> np.ndarray:
    """White top-hat of each frame (frame minus its grey opening), identical to SciPy's.

    Parameters are those of :func:`grey_opening`. Returns the same shape and dtype,
    equal to ``scipy.ndimage.white_tophat`` with the same footprint and boundary, per
    frame, with the same exceptions. The opening is never above the frame, so unsigned
    integers do not wrap.

    Examples
    --------
    >>> import numpy as np, scipy.ndimage
    >>> rng = np.random.default_rng(0)
    >>> frame = rng.integers(0, 1000, size=(40, 50), dtype=np.uint16)
    >>> reference = scipy.ndimage.white_tophat(frame, footprint=footprint_array("disk", 5))
    >>> bool(np.array_equal(white_tophat(frame, radius=5), reference))
    True
    """
    frames = np.asarray(frames)
    opened = grey_opening(frames, radius=radius, footprint=footprint)
    if frames.dtype == np.bool_:
        return np.bitwise_xor(frames, opened, out=opened)
    return np.subtract(frames, opened, out=opened)
