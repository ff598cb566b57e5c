"""Kernel: network density -> localizations (local maxima, sub-pixel centre, confidence).

As ZeroCostDL4Mic's Deep-STORM post-processing: a pixel is a candidate when it is the
maximum of its ``(2 radius + 1)^2`` neighbourhood and positive; plateaus (equal
neighbouring maxima) give one candidate, the first in raster order. The sub-pixel position
is the density-weighted centre of the 3 x 3 pixels around the maximum ("local average"),
and the confidence the peak value or the 3 x 3 sum. NumPy/SciPy in, NumPy out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

CONFIDENCE = ("peak", "sum")


@dataclass(frozen=True)
class Maxima:
    """Localizations found in a block of density images, in density pixels.

    Attributes
    ----------
    frame : numpy.ndarray
        int64 index of the image in the block.
    row, col : numpy.ndarray
        float64 sub-pixel position; pixel ``(i, j)`` spans ``[i, i + 1) x [j, j + 1)``,
        so its centre is ``(i + 0.5, j + 0.5)``.
    confidence : numpy.ndarray
        float64 peak value or 3 x 3 sum, in density units.
    peak_row, peak_col : numpy.ndarray or None
        int64 pixel of each maximum (where per-channel values are read: z bins).
    """

    frame: np.ndarray
    row: np.ndarray
    col: np.ndarray
    confidence: np.ndarray
    peak_row: np.ndarray | None = None
    peak_col: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.frame.size)


def first_of_plateaus(peaks: np.ndarray, batch_axes: int = 1) -> np.ndarray:
    """Keep one element (the first in raster order) of each connected group of peaks.

    Groups connect through any neighbour (8 in 2D, 26 in 3D) along the axes after the
    first ``batch_axes`` (images of a batch never connect).
    """
    structure = np.zeros((3,) * peaks.ndim, dtype=bool)
    structure[(1,) * batch_axes] = True
    labels, count = ndimage.label(peaks, structure=structure)
    if count == int(peaks.sum()):
        return peaks
    flat = labels.ravel()
    first = np.full(count + 1, -1, dtype=np.int64)
    nonzero = np.flatnonzero(flat)
    # np.unique on the labels in raster order gives each label's first index.
    _, index = np.unique(flat[nonzero], return_index=True)
    first[1:] = nonzero[index]
    kept = np.zeros(flat.size, dtype=bool)
    kept[first[1:]] = True
    return kept.reshape(peaks.shape)


def find_maxima(density: np.ndarray, *, threshold: float = 0.0, radius: int = 1,
                confidence: str = "sum") -> Maxima:
    """Local maxima of ``(N, H, W)`` density images with a sub-pixel centre and confidence.

    Parameters
    ----------
    density : numpy.ndarray
        ``(N, H, W)`` (or ``(H, W)``) network output, in density units; negative values
        count as 0.
    threshold : float, optional
        Keep localizations whose confidence is at least this (density units).
    radius : int, optional
        Half-size of the suppression neighbourhood, in density pixels (1: 3 x 3).
    confidence : {"sum", "peak"}, optional
        The 3 x 3 sum around the maximum (about the emitter's mass) or its peak value.

    Returns
    -------
    Maxima
        In raster order (frame, row, col).
    """
    if confidence not in CONFIDENCE:
        raise ValueError(f"confidence must be one of {CONFIDENCE}, got {confidence!r}")
    density = np.asarray(density, dtype=np.float32)
    if density.ndim == 2:
        density = density[None]
    density = np.maximum(density, 0)
    size = (1, 2 * radius + 1, 2 * radius + 1)
    local_max = ndimage.maximum_filter(density, size=size, mode="constant", cval=0.0)
    peaks = first_of_plateaus((density == local_max) & (density > 0))
    frame, row, col = np.nonzero(peaks)
    padded = np.pad(density, ((0, 0), (1, 1), (1, 1)))
    offsets = np.arange(-1, 2)
    window = padded[frame[:, None, None], row[:, None, None] + 1 + offsets[None, :, None],
                    col[:, None, None] + 1 + offsets[None, None, :]].astype(np.float64)
    mass = window.sum(axis=(1, 2))
    dy = (window * offsets[None, :, None]).sum(axis=(1, 2)) / mass
    dx = (window * offsets[None, None, :]).sum(axis=(1, 2)) / mass
    value = mass if confidence == "sum" else window[:, 1, 1]
    keep = value >= threshold
    return Maxima(frame=frame[keep].astype(np.int64), row=row[keep] + 0.5 + dy[keep],
                  col=col[keep] + 0.5 + dx[keep], confidence=value[keep],
                  peak_row=row[keep].astype(np.int64), peak_col=col[keep].astype(np.int64))


__all__ = ["CONFIDENCE", "Maxima", "find_maxima", "first_of_plateaus"]
