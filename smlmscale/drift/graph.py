"""Graph builders of RCC drift correction: lazy table in, Dask delayed / dataframe out.

Never computes. :func:`table_stats` gives one small record per partition;
:func:`segment_spectra` renders each segment on the workers (a segment's task depends only
on the partitions holding its frames) and returns its padded FFT; :func:`pair_shifts` is one
task per pair ``i < j`` that returns only the peak offset, never the correlation image;
:func:`apply_drift` subtracts a per-frame drift partition by partition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smlmscale.drift import rcc


@dataclass(frozen=True)
class Field:
    """The rendered field: ``shape`` ``(H, W)`` render px, ``origin_nm`` ``(y0, x0)``,
    ``pixel_nm``; segments of ``segment_frames`` frames, ``n_segments`` of them."""

    shape: tuple[int, int]
    origin_nm: tuple[float, float]
    pixel_nm: float
    segment_frames: int
    n_segments: int


def _stats(part: pd.DataFrame) -> dict:
    xy = part[["x_nm", "y_nm"]].to_numpy(np.float64)
    finite = np.isfinite(xy).all(axis=1)
    frame = part["frame"].to_numpy()
    good = xy[finite]
    return {"rows": len(part), "not_finite": int((~finite).sum()),
            "first_frame": int(frame.min()) if len(frame) else None,
            "last_frame": int(frame.max()) if len(frame) else None,
            "low": good.min(axis=0) if len(good) else None,
            "high": good.max(axis=0) if len(good) else None}


def table_stats(table) -> list:
    """One delayed record per partition: ``rows``, ``not_finite`` (rows with a NaN or
    infinite x/y), ``first_frame``, ``last_frame``, ``low``/``high`` (finite x, y, nm)."""
    from dask import delayed

    return [delayed(_stats)(part) for part in table[["frame", "x_nm", "y_nm"]].to_delayed()]


def _part_images(part: pd.DataFrame, field: Field) -> dict:
    segment = rcc.segment_of(part["frame"].to_numpy(), segment_frames=field.segment_frames,
                             n_segments=field.n_segments)
    return rcc.segment_histograms(part["x_nm"].to_numpy(), part["y_nm"].to_numpy(), segment,
                                  shape=field.shape, origin_nm=field.origin_nm,
                                  pixel_nm=field.pixel_nm)


def _segment_spectrum(index: int, shape: tuple[int, int], max_shift_px: int,
                      *parts: dict) -> np.ndarray:
    image = np.zeros(shape)
    for part in parts:
        if index in part:
            image += part[index]
    return rcc.spectrum(image, max_shift_px=max_shift_px)


def segment_spectra(table, frame_ranges: list[tuple[int, int]], field: Field, *,
                    max_shift_px: int) -> list:
    """Delayed padded spectra (:func:`~smlmscale.drift.rcc.spectrum`) of every segment.

    Parameters
    ----------
    table : dask.dataframe.DataFrame
        Canonical table, partitions in frame order.
    frame_ranges : list of tuple of int
        ``(first, last)`` frame of each partition (:func:`table_stats`).
    field : Field
    max_shift_px : int
        Largest lag the correlations look at, render px.
    """
    from dask import delayed

    parts = [delayed(_part_images)(p, field)
             for p in table[["frame", "x_nm", "y_nm"]].to_delayed()]
    seg = [(rcc.segment_of(np.array(r), segment_frames=field.segment_frames,
                           n_segments=field.n_segments)) for r in frame_ranges]
    spectra = []
    for k in range(field.n_segments):
        touching = [p for p, (a, b) in zip(parts, seg) if a <= k <= b]
        spectra.append(delayed(_segment_spectrum)(k, field.shape, max_shift_px, *touching))
    return spectra


def pair_shifts(spectra: list, field: Field, *, max_shift_px: int, sigma_px: float
                ) -> tuple[np.ndarray, list]:
    """One delayed ``(dy_px, dx_px, peak)`` per segment pair ``i < j``; returns the
    ``(P, 2)`` pairs and the delayed results."""
    from dask import delayed

    padded = rcc.padded_shape(field.shape, max_shift_px)
    pairs = np.array([(i, j) for i in range(len(spectra)) for j in range(i + 1, len(spectra))],
                     np.int64).reshape(-1, 2)
    shift = delayed(rcc.pair_shift, pure=True)
    return pairs, [shift(spectra[i], spectra[j], padded=padded, max_shift_px=max_shift_px,
                         sigma_px=sigma_px) for i, j in pairs]


def _corrected(part: pd.DataFrame, centres: np.ndarray, drift_nm: np.ndarray) -> pd.DataFrame:
    drift = rcc.drift_at(part["frame"].to_numpy(), centres, drift_nm)
    return part.assign(x_nm=part["x_nm"].to_numpy() - drift[:, 0],
                       y_nm=part["y_nm"].to_numpy() - drift[:, 1])


def apply_drift(table, centres: np.ndarray, drift_nm: np.ndarray):
    """The table with ``x_nm``/``y_nm`` minus the drift at each row's frame (lazy).

    ``centres`` ``(S,)`` frames and ``drift_nm`` ``(S, 2)`` (x, y) nm are the spline's knots
    (:func:`~smlmscale.drift.rcc.drift_at`); other columns pass through unchanged.
    """
    return table.map_partitions(_corrected, np.asarray(centres), np.asarray(drift_nm),
                                meta=table._meta)


__all__ = ["Field", "apply_drift", "pair_shifts", "segment_spectra", "table_stats"]
