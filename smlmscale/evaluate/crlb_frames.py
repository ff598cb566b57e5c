"""Kernels: the localization limit of each emitter among the others of its frame.

Mortensen's bounds (:mod:`smlmscale.evaluate.crlb`) are those of an emitter alone. In a
frame of several emitters, one whose neighbour is closer than a few PSF widths is
localized less precisely: their spots overlap, and the positions and photons of both are
unknown. :func:`frame_bounds` gives, per emitter and lateral axis,

- ``single_nm2``: the Cramer-Rao bound of the emitter alone, from the Fisher information
  of the pixel-integrated Gaussian PSF under Poisson noise (background ``b`` photons/px,
  unknown; the limit Mortensen's Eq. 5 approximates, here without its sigma_a
  approximation);
- ``joint_nm2``: the multi-emitter Cramer-Rao bound: the same information with every
  emitter within :data:`RADIUS_SIGMAS` PSF sigmas unknown too (x, y, photons each, and
  the shared background), the photons of the farther ones counted as known signal. It is
  infinite for coincident emitters (the Fisher matrix is singular);
- ``limit_nm2``: ``min(joint, single + d^2 / 8)`` with ``d`` the distance to the nearest
  emitter of the frame, nm. Where two emitters are too close to be resolved, one
  estimate at their midpoint is off by ``d / 2`` for each (``d^2 / 8`` per axis on
  average), which is less than the unbiased bound; a biased estimator can do that well.
  ``limit_nm2`` is therefore a reference for a frame-by-frame localizer, not a strict
  bound: an estimator that uses neighbouring frames (the same emitter on in several)
  can do better.

A camera's excess noise scales every variance by ``noise_factor`` (2 for an EMCCD), as
in :mod:`smlmscale.evaluate.crlb`. Emitters near the frame's edge are treated as if the
field went on (as Mortensen's bounds do). NumPy and SciPy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from smlmscale.simulate.psf import pixel_fractions

#: Emitters within this many PSF sigmas of an emitter are unknowns of its bound.
RADIUS_SIGMAS = 6.0
#: Half-width of the pixel window around the unknowns, PSF sigmas.
WINDOW_SIGMAS = 4.0
#: Condition number above which a Fisher matrix is singular (coincident emitters).
_MAX_CONDITION = 1e12
#: Floor of a pixel's expected photons (no background: pixels far from every spot).
_MIN_MEAN = 1e-9


@dataclass(frozen=True)
class FrameBounds:
    """Per-axis lateral variances of each row, nm^2 (see the module)."""

    single_nm2: np.ndarray
    joint_nm2: np.ndarray
    limit_nm2: np.ndarray


def _fractions(centre_px: np.ndarray, sigma_px: np.ndarray, first_px: np.ndarray,
               n_px: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~smlmscale.simulate.psf.pixel_fractions` of each spot along one axis and
    their derivative by the spot's centre: two ``(n, n_px)`` arrays."""
    edges = first_px[:, None] + np.arange(n_px + 1, dtype=np.float64)[None, :]
    u = (edges - centre_px[:, None]) / (np.sqrt(2.0) * sigma_px[:, None])
    pdf = np.exp(-u * u) / (np.sqrt(2.0 * np.pi) * sigma_px[:, None])
    return pixel_fractions(centre_px, sigma_px, first_px, n_px), -np.diff(pdf, axis=1)


def _derivatives(n: np.ndarray, ex: np.ndarray, dex: np.ndarray, ey: np.ndarray,
                 dey: np.ndarray) -> np.ndarray:
    """``(k, 3, rows, cols)``: each spot's expected photons per pixel differentiated by its
    x, its y and its photons (the spot itself)."""
    d = np.empty((len(n), 3, ey.shape[1], ex.shape[1]))
    d[:, 0] = n[:, None, None] * ey[:, :, None] * dex[:, None, :]
    d[:, 1] = n[:, None, None] * dey[:, :, None] * ex[:, None, :]
    d[:, 2] = ey[:, :, None] * ex[:, None, :]
    return d


def _single(x: np.ndarray, y: np.ndarray, n: np.ndarray, s: np.ndarray, b: np.ndarray,
            half: int) -> np.ndarray:
    """Per-axis variance (px^2) of each emitter alone, all at once on windows of
    ``2 * half + 1`` pixels around their own pixel."""
    size = 2 * half + 1
    ex, dex = _fractions(x, s, np.floor(x) - half, size)
    ey, dey = _fractions(y, s, np.floor(y) - half, size)
    spot = _derivatives(n, ex, dex, ey, dey).reshape(len(x), 3, -1)
    d = np.concatenate([spot, np.ones((len(x), 1, spot.shape[2]))], axis=1)  # + background
    mu = np.maximum(b[:, None] + n[:, None] * spot[:, 2], _MIN_MEAN)
    fisher = np.einsum("nap,nbp->nab", d / mu[:, None, :], d)
    cov = np.linalg.inv(fisher)
    return 0.5 * (cov[:, 0, 0] + cov[:, 1, 1])


def _joint(i: int, unknown: np.ndarray, known: np.ndarray, x: np.ndarray, y: np.ndarray,
           n: np.ndarray, s: np.ndarray, b: float, half: int) -> float:
    """Per-axis variance (px^2) of emitter ``i`` with the ``unknown`` rows (``i`` among
    them) unknown and the ``known`` rows' photons counted as signal."""
    col0, row0 = np.floor(x[unknown].min()) - half, np.floor(y[unknown].min()) - half
    n_cols = int(np.floor(x[unknown].max()) + half + 1 - col0)
    n_rows = int(np.floor(y[unknown].max()) + half + 1 - row0)

    cols, rows = np.full(len(unknown), col0), np.full(len(unknown), row0)
    ex, dex = _fractions(x[unknown], s[unknown], cols, n_cols)
    ey, dey = _fractions(y[unknown], s[unknown], rows, n_rows)
    spots = _derivatives(n[unknown], ex, dex, ey, dey)
    mu = b + np.einsum("k,krc->rc", n[unknown], spots[:, 2])
    if len(known):                          # their light only: no derivatives
        kx = pixel_fractions(x[known], s[known], np.full(len(known), col0), n_cols)
        ky = pixel_fractions(y[known], s[known], np.full(len(known), row0), n_rows)
        mu = mu + np.einsum("k,kr,kc->rc", n[known], ky, kx)
    d = np.concatenate([spots.reshape(3 * len(unknown), -1), np.ones((1, mu.size))])
    fisher = (d / np.maximum(mu.ravel(), _MIN_MEAN)) @ d.T
    scale = 1.0 / np.sqrt(np.diag(fisher))       # Jacobi scaling: photons and px apart
    fisher = fisher * scale[:, None] * scale[None, :]
    if np.linalg.cond(fisher) > _MAX_CONDITION:
        return np.inf
    cov = np.linalg.inv(fisher) * scale[:, None] * scale[None, :]
    k = 3 * int(np.flatnonzero(unknown == i)[0])
    return 0.5 * (cov[k, k] + cov[k + 1, k + 1])


def frame_bounds(frame, x_nm, y_nm, photons, *, psf_sigma_nm, background_photons,
                 pixel_size_nm: float, noise_factor: float = 1.0) -> FrameBounds:
    """The single-emitter, multi-emitter and frame-limit variances of each row.

    Parameters
    ----------
    frame : array_like of int, shape (n,)
        Frame of each emitter; every emitter of a frame must be given (the truth).
    x_nm, y_nm : array_like, shape (n,)
        Positions, nm (pixel-corner origin: pixel ``c`` covers ``[c, c + 1)`` px).
    photons : array_like, shape (n,)
        Photons of each emitter in its frame.
    psf_sigma_nm, background_photons : float or array_like, shape (n,)
        PSF standard deviation, nm, and the expected background at the emitter, photons
        per pixel (uniform around it).
    pixel_size_nm : float
        Camera pixel size, nm.
    noise_factor : float, optional
        Variance factor ``F`` (2 for an EMCCD).

    Returns
    -------
    FrameBounds
        Per-axis variances, nm^2, in the rows' order; infinite for a row without photons,
        width or finite values (which is no one's neighbour either).

    Examples
    --------
    Two emitters 2 sigma apart are each localized less precisely than alone:

    >>> b = frame_bounds([0, 0], [3000.0, 3260.0], [3000.0, 3000.0], [2000.0, 2000.0],
    ...                  psf_sigma_nm=130.0, background_photons=20.0, pixel_size_nm=100.0)
    >>> bool(np.all(b.joint_nm2 > 1.2 * b.single_nm2))
    True
    """
    frame = np.asarray(frame, np.int64)
    count = frame.size
    px = float(pixel_size_nm)
    x = np.asarray(x_nm, np.float64) / px
    y = np.asarray(y_nm, np.float64) / px
    n = np.asarray(photons, np.float64)
    s = np.broadcast_to(np.asarray(psf_sigma_nm, np.float64), (count,)) / px
    b = np.broadcast_to(np.asarray(background_photons, np.float64), (count,))
    single = np.full(count, np.inf)
    ok = np.isfinite(x) & np.isfinite(y) & (n > 0) & np.isfinite(n) & (s > 0) & \
        np.isfinite(s) & (b >= 0) & np.isfinite(b)
    if not ok.any():
        return FrameBounds(single, single.copy(), single.copy())
    half = int(np.ceil(WINDOW_SIGMAS * s[ok].max()))
    single[ok] = _single(x[ok], y[ok], n[ok], s[ok], b[ok], half)
    joint = single.copy()
    nearest = np.full(count, np.inf)
    order = np.flatnonzero(ok)[np.argsort(frame[ok], kind="stable")]   # no bound: no row
    bounds = np.flatnonzero(np.r_[True, np.diff(frame[order]) != 0, True])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        rows = order[lo:hi]
        if len(rows) < 2:
            continue
        xy = np.column_stack([x[rows], y[rows]])
        tree = cKDTree(xy)
        nearest[rows] = tree.query(xy, k=2)[0][:, 1]
        radius = RADIUS_SIGMAS * s[rows].max()
        reach = radius + 2 * np.sqrt(2.0) * (half + 1)
        near = tree.query_ball_point(xy, radius)
        far = tree.query_ball_point(xy, reach)
        for k, (u, f) in enumerate(zip(near, far)):
            if len(f) == 1:
                continue
            unknown = rows[np.sort(u)]
            known = rows[np.setdiff1d(f, u)]
            joint[rows[k]] = _joint(rows[k], unknown, known, x, y, n, s, float(b[rows[k]]),
                                    half)
    scale = float(noise_factor) * px * px
    single, joint = single * scale, joint * scale
    limit = np.minimum(joint, single + (nearest * px) ** 2 / 8.0)
    return FrameBounds(single_nm2=single, joint_nm2=joint, limit_nm2=limit)


__all__ = ["FrameBounds", "RADIUS_SIGMAS", "WINDOW_SIGMAS", "frame_bounds"]
