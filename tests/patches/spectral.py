"""A small simulated spectral SMLM movie and its PeakFit-like table (fusion tests, benchmark).

Emitters sit at fixed positions (at least 2 px apart) and are on for one run of
consecutive frames each, sometimes with a frame off in the middle (a gap: no
spot, no row). Each on frame shows a Gaussian spot at the position and, with a
spectral offset, an elongated spectral blob starting ``spectral_offset_px`` to
the right. Camera: ``offset + gain * Poisson(background + signal)``, uint16
(an EMCCD-like low-SNR regime). The table holds one row per on frame (position
jittered), a duplicate row in some frames (a double detection), dim rows below
the signal filter and bright isolated rows (DBSCAN noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PIXEL_NM = 100.0
OFFSET = 1000
GAIN = 200.0
BACKGROUND = 6.0  # photons per pixel per frame
PEAK = 40.0  # photons at the spot's centre
SIGMA_PX = 1.3
SIGNAL_MIN = 100.0  # between the dim rows and the emitters' photons


@dataclass
class SpectralData:
    """``movie`` (t, y, x) uint16, ``table`` (frame, x_nm, y_nm, photons) sorted by frame,
    ``runs`` the expected runs ``(first_frame, length)`` of the emitters' rows."""

    movie: np.ndarray
    table: pd.DataFrame
    runs: list


def _positions(rng, n, x_range, y_range, min_px=2.0):
    """``n`` uniform points (px) at least ``min_px`` apart (rejection sampling)."""
    points = np.empty((n, 2))
    found = 0
    while found < n:
        p = np.array([rng.uniform(*x_range), rng.uniform(*y_range)])
        if not found or np.hypot(*(points[:found] - p).T).min() >= min_px:
            points[found] = p
            found += 1
    return points


def _spot(expected, frame, x_px, y_px, sigma_x, sigma_y, peak):
    """Add a Gaussian (centre in px, pixel-corner origin) to ``expected[frame]``, 4 sigma wide."""
    _, height, width = expected.shape
    c0, c1 = max(0, int(x_px - 4 * sigma_x)), min(width, int(x_px + 4 * sigma_x) + 2)
    r0, r1 = max(0, int(y_px - 4 * sigma_y)), min(height, int(y_px + 4 * sigma_y) + 2)
    xs = np.arange(c0, c1) + 0.5 - x_px
    ys = np.arange(r0, r1) + 0.5 - y_px
    expected[frame, r0:r1, c0:c1] += peak * np.exp(
        -0.5 * (ys[:, None] / sigma_y) ** 2 - 0.5 * (xs[None] / sigma_x) ** 2)


def simulate_spectral(*, frames: int = 300, height: int = 48, width: int = 352,
                      emitters: int = 40, spectral_offset_px: int | None = 230,
                      run_frames: tuple[int, int] = (10, 26), x_range=(16.0, 46.0),
                      y_range=None, seed: int = 0, chunk: int = 2048) -> SpectralData:
    """Simulate; see the module docstring.

    Parameters
    ----------
    frames, height, width : int
        Movie shape.
    emitters : int
        Emitters, each on for ``run_frames`` (``[low, high)``) consecutive frames.
    spectral_offset_px : int, optional
        Columns from the emitter to the start of its spectral blob (32 px long,
        centred 16 px further); ``None``: no spectra.
    x_range, y_range : (float, float)
        Where emitters lie, px (``y_range`` default: 15 px from the top and bottom).
    seed : int
    chunk : int
        Frames rendered at once (memory only).
    """
    rng = np.random.default_rng(seed)
    y_range = y_range or (15.0, height - 15.0)
    xy = _positions(rng, emitters, x_range, y_range)
    starts = rng.integers(0, frames - run_frames[1], emitters)
    lengths = rng.integers(*run_frames, emitters)
    rows, runs, on = [], [], []
    for i, (start, length) in enumerate(zip(starts, lengths)):
        frames_on = np.arange(start, start + length)
        kind = i % 4  # 0: plain, 1: a gap, 2: a duplicate row, 3: plain
        cut = int(start + length // 2)
        if kind == 1:
            frames_on = frames_on[frames_on != cut]
            runs += [(int(start), cut - int(start)), (cut + 1, int(start + length) - cut - 1)]
        elif kind == 2:
            runs += [(int(start), cut - int(start) + 1), (cut, int(start + length) - cut)]
        else:
            runs.append((int(start), int(length)))
        total = PEAK * 2 * np.pi * SIGMA_PX ** 2 * rng.uniform(0.9, 1.1, frames_on.size)
        extra = [cut] if kind == 2 else []
        for f, photons in zip(list(frames_on) + extra, list(total) + [total[0]] * len(extra)):
            rows.append((f, *(xy[i] * PIXEL_NM + rng.normal(0, 10.0, 2)), photons))
        on.append((i, frames_on))
    n_dim, n_lone = frames // 3, frames // 6
    dim = zip(rng.integers(0, frames, n_dim), rng.uniform(5, 40, n_dim) * PIXEL_NM,
              rng.uniform(5, height - 5, n_dim) * PIXEL_NM, rng.uniform(10, SIGNAL_MIN, n_dim))
    far = _positions(rng, emitters + n_lone, x_range, y_range, min_px=0.0)
    far = far[np.min(np.hypot(*(far[:, None] - xy[None]).transpose(2, 0, 1)), axis=1) > 2.0]
    lone = zip(rng.integers(0, frames, len(far)), far[:, 0] * PIXEL_NM, far[:, 1] * PIXEL_NM,
               rng.uniform(300, 600, len(far)))  # isolated: DBSCAN noise
    table = pd.DataFrame(rows + list(dim) + list(lone), columns=["frame", "x_nm", "y_nm",
                                                                 "photons"])
    table["frame"] = table["frame"].astype(np.int64)
    table = table.sort_values("frame", kind="stable").reset_index(drop=True)
    movie = np.empty((frames, height, width), np.uint16)
    for t0 in range(0, frames, chunk):
        t1 = min(frames, t0 + chunk)
        expected = np.full((t1 - t0, height, width), BACKGROUND)
        for i, frames_on in on:
            x, y = xy[i]
            for f in frames_on[(frames_on >= t0) & (frames_on < t1)]:
                _spot(expected, f - t0, x, y, SIGMA_PX, SIGMA_PX, PEAK)
                if spectral_offset_px is not None:
                    _spot(expected, f - t0, x + spectral_offset_px + 16, y, 6.0, SIGMA_PX,
                          0.4 * PEAK)
        counts = OFFSET + GAIN * rng.poisson(expected)
        movie[t0:t1] = np.minimum(counts, 65535).astype(np.uint16)
    return SpectralData(movie=movie, table=table, runs=sorted(runs))
