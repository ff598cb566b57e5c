"""Fluorophore sites: uniform, on microtubule-like filaments, or in clusters.

Kernels: a ``numpy.random.Generator`` in, NumPy arrays out. Coordinates are
in nm with the origin at the top-left corner of pixel (0, 0); ``x`` runs along
columns, ``y`` along rows. :func:`make_sites` draws all sites of a movie once,
from the movie's seed alone, so every worker that needs them rebuilds the same
sites.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from smlmscale.simulate.settings import MovieSettings, StructureSettings

#: Spawn keys of the independent random streams of a movie (see smlmscale.simulate).
STREAM_SITES, STREAM_FIELD, STREAM_RUNS, STREAM_FRAME_EMITTERS, STREAM_NOISE = range(5)
#: Per-frame streams of the opt-in per-frame background map and baseline.
STREAM_FRAME_FIELD, STREAM_FRAME_BASELINE = 5, 6
#: Segment length of the worm-like chains, nm.
CHAIN_STEP_NM = 20.0


def stream(seed: int, *key: int) -> np.random.Generator:
    """The random generator of one fixed unit of a movie: ``(seed, stream, index...)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


@dataclass(frozen=True)
class Sites:
    """Fluorophore sites, one entry per site (its index is the ``emitter`` id).

    Attributes
    ----------
    x_nm, y_nm, z_nm : numpy.ndarray
        float64 positions in nm (``z_nm`` is 0 for 2D movies).
    sigma_nm : numpy.ndarray
        float64 in-focus PSF standard deviation of each site (finite emitter size), nm;
        with a PSF file, the Gaussian blur of its spots.
    spectral_peak_px : numpy.ndarray
        float64 spectral peak position inside the spectral box, px (spectral movies;
        zeros otherwise).
    """

    x_nm: np.ndarray
    y_nm: np.ndarray
    z_nm: np.ndarray
    sigma_nm: np.ndarray
    spectral_peak_px: np.ndarray

    def __len__(self) -> int:
        return len(self.x_nm)


def uniform_sites(rng: np.random.Generator, n: int, field_nm: tuple[float, float],
                  z_range_nm: tuple[float, float]) -> np.ndarray:
    """``n`` sites uniform in ``[0, width) x [0, height)`` and in the z range.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` float64 ``x, y, z`` in nm.
    """
    height, width = field_nm
    return np.column_stack([rng.uniform(0, width, n), rng.uniform(0, height, n),
                            rng.uniform(*z_range_nm, n)])


def worm_like_chains(rng: np.random.Generator, n_chains: int, field_nm: tuple[float, float], *,
                     persistence_length_nm: float, step_nm: float = CHAIN_STEP_NM
                     ) -> np.ndarray:
    """Worm-like chains crossing the field: ``(n_chains, n_points, 2)`` x, y in nm.

    Each chain is twice the field diagonal long, made of ``step_nm`` segments
    whose direction turns by a Gaussian angle of variance
    ``step_nm / persistence_length_nm`` per step (the discrete worm-like chain in
    2D), and is centred on a point uniform in the field so it crosses it.
    """
    height, width = field_nm
    n_steps = int(math.ceil(2 * math.hypot(height, width) / step_nm))
    turns = rng.normal(0.0, math.sqrt(step_nm / persistence_length_nm), (n_chains, n_steps))
    angles = rng.uniform(0, 2 * math.pi, (n_chains, 1)) + np.cumsum(turns, axis=1)
    steps = step_nm * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    points = np.concatenate([np.zeros((n_chains, 1, 2)), np.cumsum(steps, axis=1)], axis=1)
    centres = np.column_stack([rng.uniform(0, width, n_chains), rng.uniform(0, height, n_chains)])
    return points - points[:, n_steps // 2: n_steps // 2 + 1] + centres[:, None, :]


def filament_sites(rng: np.random.Generator, n: int, field_nm: tuple[float, float],
                   z_range_nm: tuple[float, float], structure: StructureSettings,
                   n_filaments: int, *, is_3d: bool) -> np.ndarray:
    """``n`` sites on microtubule-like filaments: ``(n, 3)`` x, y, z in nm.

    Sites are uniform along the length of the filaments inside the field, on a
    tube of ``filament_radius_nm`` around each chain (angle uniform round the
    tube: lateral offset ``r cos(phi)``, axial ``r sin(phi)``), plus isotropic
    Gaussian label jitter. In 3D the chain's axis height follows a slow sinusoid
    inside the z range (amplitude, period of 5-20 um and phase per filament);
    sites are clipped to the z range.
    """
    height, width = field_nm
    chains = worm_like_chains(rng, n_filaments, field_nm,
                              persistence_length_nm=structure.persistence_length_nm)
    start, end = chains[:, :-1].reshape(-1, 2), chains[:, 1:].reshape(-1, 2)
    arc = np.broadcast_to(np.arange(chains.shape[1] - 1, dtype=np.float64),
                          (n_filaments, chains.shape[1] - 1)).reshape(-1) * CHAIN_STEP_NM
    chain_id = np.repeat(np.arange(n_filaments), chains.shape[1] - 1)
    inside = ((start >= 0) & (start < [width, height]) & (end >= 0)
              & (end < [width, height])).all(axis=1)
    if not inside.any():  # a field smaller than a step: fall back to the chain centres
        inside[:] = True
    start, end, arc, chain_id = start[inside], end[inside], arc[inside], chain_id[inside]
    pick = rng.integers(0, len(start), n)
    along = rng.uniform(0, 1, n)
    axis_xy = start[pick] + along[:, None] * (end[pick] - start[pick])
    direction = end[pick] - start[pick]
    normal = np.column_stack([-direction[:, 1], direction[:, 0]])
    normal /= np.maximum(np.hypot(normal[:, 0], normal[:, 1]), 1e-12)[:, None]
    phi = rng.uniform(0, 2 * math.pi, n)
    radius = structure.filament_radius_nm
    xy = axis_xy + (radius * np.cos(phi))[:, None] * normal
    z = np.zeros(n)
    if is_3d:
        low, high = z_range_nm
        mid, half = 0.5 * (low + high), 0.5 * (high - low)
        amplitude = rng.uniform(0, 0.8, n_filaments) * half
        period = rng.uniform(5000, 20000, n_filaments)
        phase = rng.uniform(0, 2 * math.pi, n_filaments)
        c = chain_id[pick]
        s = arc[pick] + along * CHAIN_STEP_NM
        z = mid + amplitude[c] * np.sin(2 * math.pi * s / period[c] + phase[c])
        z = z + radius * np.sin(phi)
    jitter = rng.normal(0.0, structure.label_jitter_nm, (n, 3))
    sites = np.column_stack([xy, z]) + jitter
    sites[:, 2] = np.clip(sites[:, 2], *z_range_nm) if is_3d else 0.0
    return sites


def cluster_sites(rng: np.random.Generator, n: int, field_nm: tuple[float, float],
                  z_range_nm: tuple[float, float], n_clusters: int, sigma_nm: float, *,
                  is_3d: bool) -> np.ndarray:
    """``n`` sites in ``n_clusters`` Gaussian clusters: ``(n, 3)`` x, y, z in nm.

    Centres are uniform in the field (and z range); each site joins a cluster
    chosen uniformly and is displaced by an isotropic Gaussian of ``sigma_nm``;
    z is reflected back into the range.
    """
    centres = uniform_sites(rng, n_clusters, field_nm, z_range_nm)
    member = rng.integers(0, n_clusters, n)
    sites = centres[member] + rng.normal(0.0, sigma_nm, (n, 3))
    if is_3d:
        low, high = z_range_nm
        span = high - low
        folded = np.mod(sites[:, 2] - low, 2 * span)
        sites[:, 2] = low + np.where(folded > span, 2 * span - folded, folded)
    else:
        sites[:, 2] = 0.0
    return sites


def _filaments(rng, n, field_nm, z_range, structure, is_3d) -> np.ndarray:
    n_filaments = structure.n_filaments or max(1, round(math.hypot(*field_nm) / 3000.0))
    return filament_sites(rng, n, field_nm, z_range, structure, n_filaments, is_3d=is_3d)


def _clusters(rng, n, field_nm, z_range, structure, is_3d) -> np.ndarray:
    n_clusters = structure.n_clusters or max(1, round(n / structure.cluster_size))
    return cluster_sites(rng, n, field_nm, z_range, n_clusters, structure.cluster_sigma_nm,
                         is_3d=is_3d)


def _uniform(rng, n, field_nm, z_range, structure, is_3d) -> np.ndarray:
    return uniform_sites(rng, n, field_nm, z_range)


#: ``structure.kind`` -> the function placing its sites, ``(n, 3)`` nm.
_SITE_MAKERS = {"uniform": _uniform, "filaments": _filaments, "clusters": _clusters}


def make_sites(settings: MovieSettings, *, sigma_nm_range: tuple[float, float] | None = None
               ) -> Sites:
    """All fluorophore sites of a movie, from its seed alone (stream ``STREAM_SITES``).

    Parameters
    ----------
    settings : MovieSettings
    sigma_nm_range : (float, float), optional
        The range each site's ``sigma_nm`` is drawn from, nm, instead of
        ``psf.sigma_nm_range`` (a PSF file's blur range); the draws are the same.
    """
    rng = stream(settings.seed, STREAM_SITES)
    structure, psf = settings.structure, settings.psf
    height_px, width_px = settings.field_px
    field_nm = (height_px * settings.pixel_size_nm, width_px * settings.pixel_size_nm)
    z_range = psf.z_range_nm if psf.is_3d else (0.0, 0.0)
    n = settings.n_sites
    xyz = _SITE_MAKERS[structure.kind](rng, n, field_nm, z_range, structure, psf.is_3d)
    sigma = rng.uniform(*(sigma_nm_range or psf.sigma_nm_range), n)
    peak = rng.uniform(*settings.spectral.peak_range_px, n) if settings.spectral.enabled \
        else np.zeros(n)
    return Sites(x_nm=np.ascontiguousarray(xyz[:, 0]), y_nm=np.ascontiguousarray(xyz[:, 1]),
                 z_nm=np.ascontiguousarray(xyz[:, 2]), sigma_nm=sigma, spectral_peak_px=peak)
