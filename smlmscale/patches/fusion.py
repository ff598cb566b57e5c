"""Spectral SMLM "fusion" training pairs (DeepL SRMLM, seed 001): kernels.

A molecule that stays on for many consecutive frames is imaged many times with
independent noise. Fusing the other images of the same molecule gives a
low-noise target for each raw image; the network learns raw -> target.

The algorithm (:func:`~smlmscale.patches.fusion_graph.build_fusion` drives it):

1. Rows of the table with ``photons > signal_min`` (strictly, PeakFit's
   ``Signal`` read as ``photons``) are clustered with DBSCAN on ``(x_nm,
   y_nm)`` (``eps_nm``, default half a camera pixel; ``min_samples``); noise is
   dropped. Rows are sorted by frame (stable) first, so labels are deterministic.
2. :func:`consecutive_runs`: each cluster's rows, in frame order, are split
   wherever the frame step is not exactly 1 (a gap or a duplicate frame); runs
   longer than ``min_run`` frames are kept, ordered by (first frame, cluster
   label) and numbered ``0 .. R - 1``.
3. :func:`draw_boxes`: from the run's first event, ``cx = floor(x_nm / pixel)``,
   ``cy = floor(y_nm / pixel)``; ``numpy.random.default_rng([seed, run])`` draws
   ``sy, sx`` in ``[-shift, shift]``, then ``j`` in ``[jit_lo, jit_hi]`` and
   ``c`` in ``[-row_jitter, row_jitter]`` (all inclusive). Localization box: rows
   ``cy - h - sy + [0, box)``, columns ``cx - h - sx + [0, box)``, ``h = box //
   2``. Spectral box (when a spectral offset is set): the same rows shifted by
   ``-c``, columns ``cx + offset + j - sx + [0, width)``. A patch is the two
   boxes side by side (``box x (box + width)``). Runs whose boxes leave the
   frame are skipped.
4. Raw patch ``P = pixels / scale`` (``2**16`` for uint16 movies, as the seed).
5. :func:`spatial_frequency` of every raw patch (whole patch, both parts).
6. :func:`leave_one_out_fusion`: ``F_n = sum_{i != n} SF_i P_i / sum_{i != n} SF_i``
   over the run (the plain mean of the others when those weights sum to 0).
7. :func:`denoise`: target = top-hat(``F_loc / max F_loc``) next to
   top-hat(``F_spec / (amp * max F_spec)``), white top-hat with a disk of
   ``tophat_radius_px`` (``amp`` = the seed's ``ampFact``, 0.5).
8. :func:`select_events`: ``ratio_n = SF(target_n) / SF(P_n)``; an event is kept
   when ``ratio_n > (max ratio - min ratio) / 2`` over its run and its raw
   localization part reaches ``min_peak``.

Input = ``P`` and target = the denoised fusion, ``(box, W, 1)`` float32, runs in
run order and events in frame order.

Where this departs from the seed's code, and why:

- **SF** follows Li, Kwok & Wang (2001), Information Fusion 2:169-176:
  ``RF**2 = 1/(MN) sum_m sum_{n>=2} (F[m,n] - F[m,n-1])**2``, ``CF`` likewise
  along columns, ``SF = sqrt(RF**2 + CF**2)`` with the patch's own ``M x N``. The
  seed divides by a fixed ``16 * 48`` whatever the patch and its difference
  ranges stop one short (``n < 47``, ``m < 15``, 0-based), so on its 16 x 64
  patches the last 17 columns and the last row never count.
- **Leave-one-out**: the seed's fusion loop runs over ``len(patch[1:])`` of the
  ``k - 1`` remaining images, so it also drops the last remaining one. Here
  every other image of the run is fused, as intended.
- **Selection** keeps the seed's rule literally: the threshold is half the
  *range* of the ratios, not their midpoint. An event whose raw SF is 0 has no
  ratio; it is dropped and does not count in the range.
- **Clustering** runs on positions in nm with half a pixel as ``eps``; the seed
  clusters PeakFit's integer candidate pixels (``origX``, ``origY``) with
  ``eps = 0.001``, i.e. "the same pixel". Boxes are cut at ``floor`` of the
  fitted position instead of the candidate pixel.
- **Randomness** is one generator per run seeded with ``(seed, run)`` instead of
  Python's global ``random``, so patches do not depend on chunking or workers.
- **Off-frame boxes** are skipped explicitly; the seed relies on NumPy slicing
  raising (a negative start wraps around silently instead) and crops the field
  of view by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smlmscale.preprocess.morphology import white_tophat


def spatial_frequency(images: np.ndarray) -> np.ndarray:
    """Spatial frequency (Li, Kwok & Wang 2001) of each image of a stack.

    Parameters
    ----------
    images : ndarray
        ``(..., M, N)``, any real dtype (computed in float64).

    Returns
    -------
    ndarray
        ``(...)`` float64: ``sqrt(RF**2 + CF**2)`` where ``RF**2`` is the sum of
        squared differences of horizontal neighbours divided by ``M * N`` and
        ``CF**2`` the same for vertical neighbours (image units).

    Examples
    --------
    >>> float(spatial_frequency(np.array([[0.0, 1.0], [1.0, 0.0]])))
    1.0
    """
    images = np.asarray(images, dtype=np.float64)
    m, n = images.shape[-2:]
    along_rows = np.diff(images, axis=-1)
    along_cols = np.diff(images, axis=-2)
    power = (np.einsum("...ij,...ij->...", along_rows, along_rows)
             + np.einsum("...ij,...ij->...", along_cols, along_cols))
    return np.sqrt(power / (m * n))


def _run_index(starts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Run of each of ``n`` events, and run lengths, from the runs' first indices."""
    lengths = np.diff(np.append(starts, n))
    return np.repeat(np.arange(starts.size), lengths), lengths


def leave_one_out_fusion(patches: np.ndarray, weights: np.ndarray,
                         starts=(0,)) -> np.ndarray:
    """Weighted mean of the *other* patches of each event's run.

    Parameters
    ----------
    patches : ndarray
        ``(n, M, N)`` events, runs one after another.
    weights : ndarray
        ``(n,)`` weights (the raw SFs), >= 0.
    starts : sequence of int
        Index of each run's first event, increasing, from 0; every run holds at
        least 2 events.

    Returns
    -------
    ndarray
        ``(n, M, N)`` float64: for event ``e`` of run ``r``,
        ``(S_r - w_e P_e) / (W_r - w_e)`` with ``S_r = sum w_i P_i`` and ``W_r =
        sum w_i`` over the run (O(n) in all); where ``W_r - w_e`` is 0 (the others
        weigh nothing) the plain mean of the others.
    """
    p = np.asarray(patches, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.intp)
    run, lengths = _run_index(starts, len(p))
    if lengths.size and lengths.min() < 2:
        raise ValueError("every run needs at least 2 events")
    weighted = w[:, None, None] * p
    num = np.add.reduceat(weighted, starts, axis=0)[run] - weighted
    den = np.add.reduceat(w, starts)[run] - w
    out = np.empty_like(p)
    ok = den != 0
    out[ok] = num[ok] / den[ok, None, None]
    if not ok.all():
        plain = np.add.reduceat(p, starts, axis=0)[run] - p
        bad = ~ok
        out[bad] = plain[bad] / (lengths[run][bad] - 1)[:, None, None]
    return out


def _scaled_by_max(parts: np.ndarray, factor: float) -> np.ndarray:
    """``parts / (factor * max)`` per image; an image whose max is 0 is only divided by factor."""
    peak = parts.max(axis=(-2, -1), keepdims=True)
    peak = np.where(peak == 0, 1.0, peak)
    return parts / (factor * peak)


def denoise(fused: np.ndarray, *, loc_width_px: int, amplification: float,
            radius_px: int) -> np.ndarray:
    """The target: each part scaled by its maximum, then a white top-hat (disk).

    Parameters
    ----------
    fused : ndarray
        ``(n, M, N)`` fused patches; columns ``[0, loc_width_px)`` are the
        localization part, the rest (possibly none) the spectral part.
    loc_width_px : int
        Width of the localization part, px.
    amplification : float
        The spectral part is divided by ``amplification * max`` (0.5 doubles it).
    radius_px : int
        Disk radius of the top-hat, px.

    Returns
    -------
    ndarray
        ``(n, M, N)`` float64; each part equals
        ``scipy.ndimage.white_tophat(part, footprint=disk(radius_px))`` of the
        scaled part (``mode="reflect"``), parts filtered separately.
    """
    fused = np.asarray(fused, dtype=np.float64)
    out = np.empty_like(fused)
    loc = _scaled_by_max(fused[..., :loc_width_px], 1.0)
    out[..., :loc_width_px] = white_tophat(loc, radius=radius_px, footprint="disk")
    if fused.shape[-1] > loc_width_px:
        spec = _scaled_by_max(fused[..., loc_width_px:], amplification)
        out[..., loc_width_px:] = white_tophat(spec, radius=radius_px, footprint="disk")
    return out


def select_events(ratio: np.ndarray, loc_peak: np.ndarray, starts=(0,), *,
                  min_peak: float) -> np.ndarray:
    """Which events to keep: the seed's SF-ratio rule, then a peak threshold.

    Parameters
    ----------
    ratio : ndarray
        ``(n,)`` ``SF(target) / SF(raw)``; NaN where the raw SF is 0.
    loc_peak : ndarray
        ``(n,)`` maximum of each raw localization part (normalized units).
    starts : sequence of int
        Index of each run's first event.
    min_peak : float
        Keep events whose ``loc_peak >= min_peak``.

    Returns
    -------
    ndarray
        ``(n,)`` bool: ``ratio > (max - min) / 2`` over the event's run (NaN ignored
        in max and min, never kept) and ``loc_peak >= min_peak``.

    Examples
    --------
    >>> select_events(np.array([1.0, 2.0, 5.0]), np.ones(3), min_peak=0.5).tolist()
    [False, False, True]
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.intp)
    run, _ = _run_index(starts, ratio.size)
    with np.errstate(invalid="ignore"):
        span = np.fmax.reduceat(ratio, starts) - np.fmin.reduceat(ratio, starts)
        keep = ratio > (span / 2)[run]
    return keep & (np.asarray(loc_peak) >= min_peak)


def consecutive_runs(frames: np.ndarray, labels: np.ndarray, *,
                     min_run: int) -> tuple[pd.DataFrame, int, int]:
    """Runs of consecutive frames within each cluster.

    Parameters
    ----------
    frames : ndarray
        ``(n,)`` int frame of each row.
    labels : ndarray
        ``(n,)`` cluster label of each row; negative (noise) rows are ignored.
    min_run : int
        Keep runs of more than ``min_run`` events.

    Returns
    -------
    runs : pandas.DataFrame
        One row per kept run, ordered by (first frame, label), index = run number:
        ``label``, ``first_frame``, ``length`` and ``first_row`` (index in the
        input of the run's first event), all int64.
    n_runs : int
        Runs of any length.
    longest : int
        Events in the longest run (0 when no cluster).

    Notes
    -----
    Rows are ordered by (label, frame), stably, then cut wherever the label
    changes or the frame step is not exactly 1: a gap, and also a duplicate
    frame, ends a run (the duplicate starts the next one).
    """
    frames = np.asarray(frames, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.flatnonzero(labels >= 0)
    rows = rows[np.lexsort((frames[rows], labels[rows]))]
    f, lab = frames[rows], labels[rows]
    cuts = np.flatnonzero((np.diff(lab) != 0) | (np.diff(f) != 1)) + 1
    starts = np.concatenate([[0], cuts]) if rows.size else np.zeros(0, np.int64)
    lengths = np.diff(np.append(starts, rows.size))
    long = lengths > min_run
    runs = pd.DataFrame({"label": lab[starts][long], "first_frame": f[starts][long],
                         "length": lengths[long], "first_row": rows[starts][long]},
                        dtype=np.int64)
    runs = runs.iloc[np.lexsort((runs["label"], runs["first_frame"]))].reset_index(drop=True)
    return runs, int(starts.size), int(lengths.max(initial=0))


def draw_boxes(x_nm: np.ndarray, y_nm: np.ndarray, *, pixel_size_nm: float, seed: int,
               box_px: int, shift_px: int, spectral_offset_px: int | None,
               spectral_jitter_px: tuple[int, int], row_jitter_px: int) -> np.ndarray:
    """Box corners of runs numbered ``0 .. R - 1`` from their first events' positions.

    Parameters
    ----------
    x_nm, y_nm : ndarray
        ``(R,)`` position of each run's first event, nm (pixel-corner origin).
    pixel_size_nm : float
    seed : int
        With the run number, seeds ``numpy.random.default_rng([seed, run])``.
    box_px, shift_px : int
        Box side and largest shift, px.
    spectral_offset_px : int or None
        Columns from the emitter to the spectral box; ``None``: no spectral box.
    spectral_jitter_px : (int, int)
        Inclusive range added to the offset.
    row_jitter_px : int
        The spectral box moves up to this many rows.

    Returns
    -------
    ndarray
        ``(R, 4)`` int64: ``row0, col0`` of the localization box and ``srow0,
        scol0`` of the spectral box (equal to ``row0, col0`` without a spectral
        offset). Draw order per run: ``sy, sx``, then jitter, then row jitter.
    """
    cx = np.floor(np.asarray(x_nm, np.float64) / pixel_size_nm).astype(np.int64)
    cy = np.floor(np.asarray(y_nm, np.float64) / pixel_size_nm).astype(np.int64)
    half = box_px // 2
    lo, hi = spectral_jitter_px
    out = np.empty((cx.size, 4), np.int64)
    for run in range(cx.size):
        rng = np.random.default_rng([seed, run])
        sy, sx = rng.integers(-shift_px, shift_px + 1, size=2)
        jitter = rng.integers(lo, hi + 1)
        row_shift = rng.integers(-row_jitter_px, row_jitter_px + 1)
        row0, col0 = cy[run] - half - sy, cx[run] - half - sx
        if spectral_offset_px is None:
            out[run] = (row0, col0, row0, col0)
        else:
            out[run] = (row0, col0, row0 - row_shift,
                        cx[run] + spectral_offset_px + jitter - sx)
    return out


def _cut(block: np.ndarray, t: np.ndarray, row0: np.ndarray, col0: np.ndarray,
         height: int, width: int) -> np.ndarray:
    rows = row0[:, None] + np.arange(height)
    cols = col0[:, None] + np.arange(width)
    return block[t[:, None, None], rows[:, :, None], cols[:, None, :]]


def fusion_block(block: np.ndarray, runs: np.ndarray, *, first_frame: int, box_px: int,
                 spectral_width_px: int, scale: float, amplification: float,
                 tophat_radius_px: int, min_peak: float) -> tuple[np.ndarray, np.ndarray]:
    """The training pairs of some runs whose frames ``block`` holds.

    Parameters
    ----------
    block : ndarray
        ``(t, y, x)`` frames ``first_frame .. first_frame + t - 1`` of the movie.
    runs : ndarray
        ``(r, 6)`` int: ``first_frame, length, row0, col0, srow0, scol0`` per run
        (absolute frame; box corners in px, inside the frame); events are frames
        ``first_frame .. first_frame + length - 1``; ``length >= 2``.
    first_frame : int
    box_px : int
        Box side, px.
    spectral_width_px : int
        Spectral box width, px (0: localization box only).
    scale : float
        Raw pixels are divided by it.
    amplification, tophat_radius_px : float, int
        See :func:`denoise`.
    min_peak : float
        See :func:`select_events`.

    Returns
    -------
    inputs, targets : ndarray
        ``(k, box_px, box_px + spectral_width_px, 1)`` float32 each: the kept raw
        patches and their targets, runs in the given order, events in frame order.
    """
    runs = np.asarray(runs, dtype=np.int64).reshape(-1, 6)
    width = box_px + spectral_width_px
    if not len(runs):
        empty = np.zeros((0, box_px, width, 1), np.float32)
        return empty, empty.copy()
    lengths = runs[:, 1]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    run, _ = _run_index(starts, int(lengths.sum()))
    t = runs[run, 0] - first_frame + np.arange(run.size) - starts[run]
    patches = _cut(block, t, runs[run, 2], runs[run, 3], box_px, box_px)
    if spectral_width_px:
        spectral = _cut(block, t, runs[run, 4], runs[run, 5], box_px, spectral_width_px)
        patches = np.concatenate([patches, spectral], axis=-1)
    raw = patches.astype(np.float64) / scale
    sf_raw = spatial_frequency(raw)
    fused = leave_one_out_fusion(raw, sf_raw, starts)
    target = denoise(fused, loc_width_px=box_px, amplification=amplification,
                     radius_px=tophat_radius_px)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sf_raw > 0, spatial_frequency(target) / sf_raw, np.nan)
    keep = select_events(ratio, raw[..., :box_px].max(axis=(1, 2)), starts,
                         min_peak=min_peak)
    return (raw[keep, ..., None].astype(np.float32),
            target[keep, ..., None].astype(np.float32))


__all__ = ["consecutive_runs", "denoise", "draw_boxes", "fusion_block", "leave_one_out_fusion",
           "select_events", "spatial_frequency"]
